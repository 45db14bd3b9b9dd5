package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/faultline/faultline/harness/history"
)

// Chart colours. Fills are color.NRGBA: gonum/plot reads color.RGBA as premultiplied,
// which would make a translucent fill come out dark.
var (
	colServed  = color.NRGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colSent    = color.NRGBA{R: 0x9e, G: 0xb9, B: 0xd4, A: 0xff}
	colErrors  = color.NRGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colP50     = color.NRGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	colP99     = color.NRGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	colFault   = color.NRGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0x2e}
	colHealing = color.NRGBA{R: 0xff, G: 0xbf, B: 0x00, A: 0x2e}
	colRecover = color.NRGBA{R: 0x6a, G: 0x3d, B: 0x9a, A: 0xff}
)

// marks are what the chart draws over the series: fault windows and the recovery time,
// in seconds from the window's start.
type marks struct {
	bands    []band
	recovery float64 // < 0: none
	recLabel string
}

// band shades [from, to) of every panel; its label is written on the top panel only.
type band struct {
	from, to float64
	label    string
	fill     color.Color
	row      int // label line: faults at the same time get one line each
}

// plotOn draws a translucent rectangle over the panel's full height.
func (b band) plotOn(c draw.Canvas, p *plot.Plot, label bool) {
	trX, _ := p.Transforms(&c)
	x1, x2 := max(trX(b.from), c.Min.X), min(trX(b.to), c.Max.X)
	if x2 <= x1 {
		return
	}
	c.FillPolygon(b.fill, []vg.Point{{X: x1, Y: c.Min.Y}, {X: x2, Y: c.Min.Y}, {X: x2, Y: c.Max.Y}, {X: x1, Y: c.Max.Y}})
	if label && b.label != "" {
		ts := p.X.Tick.Label
		ts.XAlign, ts.YAlign = draw.XLeft, draw.YTop
		c.FillText(ts, vg.Point{X: x1 + vg.Points(3), Y: c.Max.Y - vg.Points(3) - vg.Length(b.row)*ts.Font.Size*1.3}, b.label)
	}
}

// overlay draws the marks on one panel; top says whether to write their labels.
type overlay struct {
	m   marks
	top bool
}

// Plot implements plot.Plotter.
func (o overlay) Plot(c draw.Canvas, p *plot.Plot) {
	for _, b := range o.m.bands {
		b.plotOn(c, p, o.top)
	}
	if o.m.recovery < 0 {
		return
	}
	trX, _ := p.Transforms(&c)
	x := trX(o.m.recovery)
	if x < c.Min.X || x > c.Max.X {
		return
	}
	ls := draw.LineStyle{Color: colRecover, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	c.StrokeLine2(ls, x, c.Min.Y, x, c.Max.Y)
	if o.top {
		ts := p.X.Tick.Label
		ts.Color = colRecover
		ts.XAlign, ts.YAlign = draw.XRight, draw.YBottom
		c.FillText(ts, vg.Point{X: x - vg.Points(3), Y: c.Min.Y + vg.Points(3)}, o.m.recLabel)
	}
}

var _ plot.Plotter = overlay{}

// marksOf places a scenario's faults and recovery on its window.
func marksOf(s Scenario) marks {
	rel := func(t time.Duration) float64 { return (t - s.Window.From).Seconds() }
	end := s.Window.To
	m := marks{recovery: -1}
	for _, f := range s.Faults {
		healAt := f.HealStartedAt
		if healAt == 0 {
			healAt = f.HealedAt
		}
		if healAt == 0 {
			healAt = end
		}
		m.bands = append(m.bands, band{from: rel(f.InjectedAt), to: rel(healAt), label: f.Name, fill: colFault})
		if f.HealedAt > healAt {
			m.bands = append(m.bands, band{from: rel(healAt), to: rel(f.HealedAt), label: "healing", fill: colHealing})
		}
	}
	// Overlapping faults stack their labels; overlapping heals are labelled once.
	near := max((end-s.Window.From).Seconds()/4, 1) // about a label's width
	for i := range m.bands {
		for _, prev := range m.bands[:i] {
			b := m.bands[i]
			overlap := prev.to > b.from && b.to > prev.from
			if prev.fill != b.fill || (!overlap && math.Abs(b.from-prev.from) >= near) {
				continue
			}
			if m.bands[i].fill == colHealing {
				m.bands[i].label = ""
			} else {
				m.bands[i].row = max(m.bands[i].row, prev.row+1)
			}
		}
	}
	if s.Recovery != nil {
		from := time.Duration(-1)
		for _, c := range s.Checks {
			if _, ok := c.Figure("time_to_recover"); ok {
				from = c.Window.From
			}
		}
		if from < 0 && len(s.Faults) > 0 {
			last := s.Faults[len(s.Faults)-1]
			from = max(last.HealStartedAt, last.InjectedAt)
		}
		if from >= 0 {
			m.recovery = rel(from + *s.Recovery)
			m.recLabel = "recovered +" + fmtDuration(*s.Recovery)
			switch s.RecoveryFrom {
			case RecoveryFromHealStart:
				m.recLabel += " from heal start"
			case RecoveryFromInject:
				m.recLabel += " from injection"
			}
		}
	}
	return m
}

// WriteChart draws a scenario's timeline as SVG: throughput, error rate and p50/p99
// latency per second over its window, fault windows shaded and labelled, recovery marked.
func WriteChart(w io.Writer, s Scenario, h *history.History) error {
	secs := Timeline(h, s.Window)
	span := (s.Window.To - s.Window.From).Seconds()
	var sent, served, errs, p50, p99 plotter.XYs
	for _, sec := range secs {
		x := sec.At.Seconds() + 0.5
		sent = append(sent, plotter.XY{X: x, Y: float64(sec.Ops)})
		served = append(served, plotter.XY{X: x, Y: float64(sec.OK)})
		errs = append(errs, plotter.XY{X: x, Y: 100 * sec.ErrorRate})
		p50 = append(p50, plotter.XY{X: x, Y: msOf(sec.P50)})
		p99 = append(p99, plotter.XY{X: x, Y: msOf(sec.P99)})
	}
	m := marksOf(s)
	type line struct {
		name string
		xys  plotter.XYs
		col  color.NRGBA
	}
	panel := func(ylabel string, top bool, series ...line) (*plot.Plot, error) {
		p := plot.New()
		p.Y.Label.Text = ylabel
		p.Add(plotter.NewGrid(), overlay{m: m, top: top})
		p.Legend.Top, p.Legend.Left = true, false
		for _, s := range series {
			if len(s.xys) == 0 {
				continue
			}
			l, err := plotter.NewLine(s.xys)
			if err != nil {
				return nil, fmt.Errorf("chart %s: %w", s.name, err)
			}
			l.Color, l.Width = s.col, vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(s.name, l)
		}
		p.X.Min, p.X.Max = 0, max(span, 1)
		p.Y.Min = 0
		p.Y.Max = max(p.Y.Max*1.3, 1) // headroom for the legend, top right

		return p, nil
	}
	thr, err := panel("ops/s", true, line{"sent", sent, colSent}, line{"served", served, colServed})
	if err != nil {
		return err
	}
	er, err := panel("errors %", false, line{"error rate", errs, colErrors})
	if err != nil {
		return err
	}
	er.Y.Max = 130
	er.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 50, Label: "50"}, {Value: 100, Label: "100"}})
	lat, err := panel("latency ms", false, line{"p50", p50, colP50}, line{"p99", p99, colP99})
	if err != nil {
		return err
	}
	lat.X.Label.Text = "seconds since the scenario began"

	c := vgsvg.New(9*vg.Inch, 5.4*vg.Inch)
	dc := draw.New(c)
	plots := [][]*plot.Plot{{thr}, {er}, {lat}}
	tiles := draw.Tiles{Rows: 3, Cols: 1, PadX: vg.Millimeter, PadY: vg.Millimeter * 2,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, tiles, dc)
	for j := range plots {
		plots[j][0].Draw(canvases[j][0])
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return fmt.Errorf("chart %s: %w", s.ID, err)
	}
	// Inline in HTML: drop the XML prolog and comment before <svg.
	out := buf.String()
	if i := strings.Index(out, "<svg"); i > 0 {
		out = out[i:]
	}
	_, err = io.WriteString(w, out)
	return err
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fmtDuration reads "1.2s" or "850ms".
func fmtDuration(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%.0fms", msOf(d))
}
