package netfault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"

	tpclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline/faultline/harness/toxics"
)

// Link is one proxied network path: one Toxiproxy proxy in front of one upstream.
type Link struct {
	m        *Manager
	name     string
	upstream string
	listen   string
	pair     string     // the http toxic's halves' pair key
	httpMu   sync.Mutex // one change to the http rules at a time
}

// Name is the proxy's name.
func (l *Link) Name() string { return l.name }

// Upstream is where the proxy sends what it receives.
func (l *Link) Upstream() string {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	return l.upstream
}

// Listen is the address the proxy listens on, as Toxiproxy reports it (the real port).
func (l *Link) Listen() string { return l.listen }

// HostAddr is where the harness process reaches the proxy. It may change after a
// container fault (a published port does): ask again rather than keep it.
func (l *Link) HostAddr(ctx context.Context) (string, error) {
	addr, err := l.m.host.HostAddr(ctx, l.listen)
	if err != nil {
		return "", fmt.Errorf("host address of proxy %s (listen %s): %w", l.name, l.listen, err)
	}
	return addr, nil
}

// NetAddr is where instances reach the proxy: the address to hand them.
func (l *Link) NetAddr() string { return l.m.host.NetAddr(l.listen) }

// String is the link's name.
func (l *Link) String() string { return l.name }

// AddToxic adds a toxic to the proxy and returns the name to remove it by. With Both it
// adds two, "<name>_upstream" and "<name>_downstream", and returns name, which
// RemoveToxic takes for both. A TypeHTTP toxic becomes a rule of the http toxic netfault
// keeps on the proxy; it is listed and removed like any other. Bad parameters are
// refused before anything is sent, with an error naming the parameter (ErrInvalid).
func (l *Link) AddToxic(ctx context.Context, t Toxic) (string, error) {
	t, err := t.normalize()
	if err != nil {
		return "", fmt.Errorf("add toxic to %s: %w", l.name, err)
	}
	if t.Type == TypeHTTP {
		return t.Name, l.addHTTP(ctx, t)
	}
	streams, names := []Direction{t.Stream}, []string{t.Name}
	if t.Stream == Both {
		streams = []Direction{Upstream, Downstream}
		names = []string{t.Name + "_upstream", t.Name + "_downstream"}
	}
	attrs := t.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	for i, s := range streams {
		err := l.m.api.addToxic(ctx, l.name, toxicBody{
			Name: names[i], Type: t.Type, Stream: s.String(), Toxicity: t.Toxicity, Attributes: attrs,
		})
		if err != nil {
			if i > 0 { // do not leave half of a Both behind
				if rerr := l.m.api.removeToxic(context.WithoutCancel(ctx), l.name, names[0]); rerr != nil {
					err = errors.Join(err, fmt.Errorf("remove %s again: %w", names[0], rerr))
				}
			}
			return "", fmt.Errorf("add toxic %s (%s, %s) to %s: %w", names[i], t.Type, s, l.name, err)
		}
	}
	l.m.log.Debug("toxic added", "link", l.name, "toxic", t.Name, "type", t.Type, "stream", t.Stream.String(),
		"toxicity", t.Toxicity, "attributes", attrs)
	return t.Name, nil
}

// RemoveToxic removes a toxic AddToxic added (both halves of a Both). A toxic that is
// not there gives an error wrapping ErrNotFound, which a heal may accept.
func (l *Link) RemoveToxic(ctx context.Context, name string) error {
	if name == residentUp || name == residentDown {
		return fmt.Errorf("remove toxic %s from %s: %w", name, l.name, invalid("it is netfault's own: use Reset to heal the link"))
	}
	err := l.m.api.removeToxic(ctx, l.name, name)
	if !errors.Is(err, ErrNotFound) {
		if err != nil {
			return fmt.Errorf("remove toxic %s from %s: %w", name, l.name, err)
		}
		l.m.log.Debug("toxic removed", "link", l.name, "toxic", name)
		return nil
	}
	removed, err := l.removeHTTP(ctx, name)
	if err != nil || removed {
		return err
	}
	var errs []error
	for _, half := range []string{name + "_upstream", name + "_downstream"} {
		err := l.m.api.removeToxic(ctx, l.name, half)
		switch {
		case err == nil:
			removed = true
		case !errors.Is(err, ErrNotFound):
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove toxic %s from %s: %w", name, l.name, err)
	}
	if !removed {
		return fmt.Errorf("remove toxic %s from %s: %w", name, l.name, ErrNotFound)
	}
	l.m.log.Debug("toxic removed", "link", l.name, "toxic", name, "stream", "both")
	return nil
}

// Toxics lists the toxics on the proxy, http rules included, netfault's own hidden.
func (l *Link) Toxics(ctx context.Context) ([]Toxic, error) {
	ts, err := l.m.api.toxics(ctx, l.name)
	if err != nil {
		return nil, fmt.Errorf("list toxics of %s: %w", l.name, err)
	}
	var out []Toxic
	for _, t := range ts {
		switch t.Name {
		case residentDown:
		case residentUp:
			rules, err := decodeRules(t)
			if err != nil {
				return nil, fmt.Errorf("list toxics of %s: %w", l.name, err)
			}
			for _, r := range rules {
				out = append(out, Toxic{Name: r.Name, Type: TypeHTTP, Stream: Upstream, Toxicity: 1, Attributes: ruleAttributes(r)})
			}
		default:
			s := Downstream
			if t.Stream == "upstream" {
				s = Upstream
			}
			out = append(out, Toxic{Name: t.Name, Type: t.Type, Stream: s, Toxicity: float64(t.Toxicity), Attributes: t.Attributes})
		}
	}
	return out, nil
}

// SetUpstream points the link at another upstream (host:port). The harness creates an
// instance's ingress link before the instance, so that it can advertise the link's
// address from its first breath, and points it at the instance once it is placed.
// Toxiproxy listens again to change an enabled proxy's upstream; should another
// process bind the port in between, the link waits to take it back (WithRelistenWait)
// rather than move: its address stays the one instances were given.
func (l *Link) SetUpstream(ctx context.Context, upstream string) error {
	if _, port, err := net.SplitHostPort(upstream); err != nil || port == "" {
		return fmt.Errorf("set upstream of %s: %q is not host:port: %w", l.name, upstream, ErrInvalid)
	}
	_, err := l.m.api.setUpstream(ctx, l.name, upstream)
	if portTaken(err) { // the proxy is stopped, with its new upstream
		err = l.relisten(ctx, err)
	}
	if err != nil {
		return fmt.Errorf("set upstream of %s (listen %s) to %s: %w", l.name, l.listen, upstream, err)
	}
	l.m.mu.Lock()
	l.upstream = upstream
	l.m.mu.Unlock()
	return nil
}

// Disable stops the proxy: its listener closes (callers are refused) and its
// connections are cut.
func (l *Link) Disable(ctx context.Context) error {
	if _, err := l.m.api.setEnabled(ctx, l.name, false); err != nil {
		return fmt.Errorf("disable proxy %s: %w", l.name, err)
	}
	l.m.log.Debug("proxy disabled", "link", l.name)
	return nil
}

// Enable starts a disabled proxy again on the same address. Should another process
// have bound the port while the proxy was off, it waits to take it back
// (WithRelistenWait): the link's address never changes.
func (l *Link) Enable(ctx context.Context) error {
	_, err := l.m.api.setEnabled(ctx, l.name, true)
	if portTaken(err) {
		err = l.relisten(ctx, err)
	}
	if err != nil {
		return fmt.Errorf("enable proxy %s (listen %s): %w", l.name, l.listen, err)
	}
	l.m.log.Debug("proxy enabled", "link", l.name)
	return nil
}

// Enabled reports whether the proxy is enabled.
func (l *Link) Enabled(ctx context.Context) (bool, error) {
	p, err := l.m.api.proxy(ctx, l.name)
	if err != nil {
		return false, fmt.Errorf("read proxy %s: %w", l.name, err)
	}
	return p.Enabled, nil
}

// Reset heals the link: every toxic and http rule removed, the proxy enabled.
func (l *Link) Reset(ctx context.Context) error {
	ts, err := l.m.api.toxics(ctx, l.name)
	if err != nil {
		return fmt.Errorf("reset %s: %w", l.name, err)
	}
	var errs []error
	var hasUp, hasDown bool
	for _, t := range ts {
		switch t.Name {
		case residentDown:
			hasDown = true
		case residentUp:
			hasUp = true
			action, _ := t.Attributes["action"].(string)
			if rules, err := decodeRules(t); err != nil || len(rules) > 0 || action != "" {
				if err := l.clearHTTP(ctx); err != nil {
					errs = append(errs, err)
				}
			}
		default:
			if err := l.m.api.removeToxic(ctx, l.name, t.Name); err != nil && !errors.Is(err, ErrNotFound) {
				errs = append(errs, fmt.Errorf("remove toxic %s: %w", t.Name, err))
			}
		}
	}
	if !hasUp || !hasDown {
		// Someone reset the server behind netfault's back (Toxiproxy's POST /reset).
		// Connections open now will never see an http fault; new ones will.
		l.m.log.Warn("http toxic missing from proxy: putting it back", "link", l.name)
		if err := l.addResidents(ctx, !hasDown, !hasUp); err != nil {
			errs = append(errs, err)
		}
	}
	if on, err := l.Enabled(ctx); err != nil {
		errs = append(errs, err)
	} else if !on {
		if err := l.Enable(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reset %s: %w", l.name, err)
	}
	return nil
}

// httpAttrs is how the resident http toxic's attributes read and are written.
type httpAttrs struct {
	toxics.HTTPRule
	Rules []toxics.HTTPRule `json:"rules"`
}

// decodeRules reads the rules of the resident http toxic as the API lists it.
func decodeRules(t tpclient.Toxic) ([]toxics.HTTPRule, error) {
	data, err := json.Marshal(t.Attributes)
	if err != nil {
		return nil, fmt.Errorf("read http rules: %w", err)
	}
	var a httpAttrs
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("read http rules: %w", err)
	}
	return a.Rules, nil
}

// ruleAttributes is a rule as Toxic.Attributes, without its name.
func ruleAttributes(r toxics.HTTPRule) map[string]any {
	r.Name = ""
	data, _ := json.Marshal(r)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return m
}

// httpRules reads the resident http toxic's rules and the other toxics' names.
func (l *Link) httpRules(ctx context.Context) (rules []toxics.HTTPRule, others []string, err error) {
	ts, err := l.m.api.toxics(ctx, l.name)
	if err != nil {
		return nil, nil, err
	}
	found := false
	for _, t := range ts {
		switch t.Name {
		case residentUp:
			found = true
			if rules, err = decodeRules(t); err != nil {
				return nil, nil, err
			}
		case residentDown:
		default:
			others = append(others, t.Name)
		}
	}
	if !found {
		return nil, nil, fmt.Errorf("proxy %s has no http toxic (was the server reset behind netfault's back? Reset puts it back)", l.name)
	}
	return rules, others, nil
}

// setRules replaces the resident http toxic's rules.
func (l *Link) setRules(ctx context.Context, rules []toxics.HTTPRule) error {
	if rules == nil {
		rules = []toxics.HTTPRule{} // null would keep the old list
	}
	body := map[string]any{"attributes": map[string]any{"rules": rules}}
	return l.m.api.call(ctx, http.MethodPatch, proxyPath(l.name, residentUp), body, nil)
}

// addHTTP adds one rule, named after the toxic, to the resident http toxic.
func (l *Link) addHTTP(ctx context.Context, t Toxic) error {
	rule, err := httpRule(t)
	if err != nil {
		return fmt.Errorf("add toxic to %s: %w", l.name, err)
	}
	l.httpMu.Lock()
	defer l.httpMu.Unlock()
	rules, others, err := l.httpRules(ctx)
	if err != nil {
		return fmt.Errorf("add http toxic %s to %s: %w", t.Name, l.name, err)
	}
	if slices.Contains(others, t.Name) || slices.ContainsFunc(rules, func(r toxics.HTTPRule) bool { return r.Name == t.Name }) {
		return fmt.Errorf("add http toxic %s to %s: a toxic of that name %w", t.Name, l.name, ErrExists)
	}
	if err := l.setRules(ctx, append(rules, rule)); err != nil {
		return fmt.Errorf("add http toxic %s to %s: %w", t.Name, l.name, err)
	}
	l.m.log.Debug("http rule added", "link", l.name, "toxic", t.Name, "attributes", t.Attributes)
	return nil
}

// removeHTTP removes the rule named name, if there is one.
func (l *Link) removeHTTP(ctx context.Context, name string) (bool, error) {
	l.httpMu.Lock()
	defer l.httpMu.Unlock()
	rules, _, err := l.httpRules(ctx)
	if err != nil {
		if errors.Is(err, ErrNotFound) { // the proxy itself is gone
			return false, fmt.Errorf("remove toxic %s from %s: %w", name, l.name, err)
		}
		return false, nil // no http toxic: no rule to remove
	}
	i := slices.IndexFunc(rules, func(r toxics.HTTPRule) bool { return r.Name == name })
	if i < 0 {
		return false, nil
	}
	if err := l.setRules(ctx, slices.Delete(rules, i, i+1)); err != nil {
		return false, fmt.Errorf("remove http toxic %s from %s: %w", name, l.name, err)
	}
	l.m.log.Debug("http rule removed", "link", l.name, "toxic", name)
	return true, nil
}

// clearHTTP removes every rule, the flat one included.
func (l *Link) clearHTTP(ctx context.Context) error {
	l.httpMu.Lock()
	defer l.httpMu.Unlock()
	body := map[string]any{"attributes": httpAttrs{Rules: []toxics.HTTPRule{}}}
	if err := l.m.api.call(ctx, http.MethodPatch, proxyPath(l.name, residentUp), body, nil); err != nil {
		return fmt.Errorf("clear http rules: %w", err)
	}
	return nil
}
