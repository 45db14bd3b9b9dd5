package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/internal/etcdtest"
	"github.com/faultline/faultline/reference-services/store"
)

type counter struct {
	N int `json:"n"`
}

// add returns a Mutation that adds d to the counter, creating it at zero.
func add(d int) store.Mutation {
	return func(cur store.Current) (store.Outcome, error) {
		var c counter
		if cur.Exists {
			if err := cur.Decode(&c); err != nil {
				return store.Outcome{}, err
			}
		}
		c.N += d
		return store.Outcome{Put: c, Status: http.StatusOK, Body: c}, nil
	}
}

func open(t *testing.T, srv *etcdtest.Server, opts ...store.Option) *store.Store {
	t.Helper()
	st, err := store.Open([]string{srv.Endpoint()}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func read(t *testing.T, st *store.Store, key string) counter {
	t.Helper()
	var c counter
	if _, err := st.Get(context.Background(), key, &c); err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return c
}

func TestApplyIsIdempotentUnderConcurrentRetries(t *testing.T) {
	st := open(t, etcdtest.Start(t))
	ctx := context.Background()
	const n = 20
	idem := store.Idempotency{Key: "k-1", Request: "POST /c +5"}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		bodies  = map[string]int{}
		applied int
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := st.Apply(ctx, "/c", idem, add(5))
			if err != nil {
				t.Errorf("apply: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			bodies[string(res.Body)]++
			if !res.Replayed {
				applied++
			}
		}()
	}
	wg.Wait()
	if got := read(t, st, "/c"); got.N != 5 {
		t.Errorf("counter = %d after %d deliveries of one +5, want 5", got.N, n)
	}
	if applied != 1 {
		t.Errorf("%d deliveries applied, want exactly 1", applied)
	}
	if len(bodies) != 1 {
		t.Errorf("deliveries got %d different answers, want one: %v", len(bodies), bodies)
	}
}

func TestApplyRetriesConflicts(t *testing.T) {
	st := open(t, etcdtest.Start(t))
	const n = 30
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idem := store.Idempotency{Key: fmt.Sprintf("k-%d", i), Request: "POST /c +1"}
			if _, err := st.Apply(context.Background(), "/c", idem, add(1)); err != nil {
				t.Errorf("apply %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if got := read(t, st, "/c"); got.N != n {
		t.Errorf("counter = %d after %d concurrent +1, want %d", got.N, n, n)
	}
}

func TestApplyRefusesAReusedKey(t *testing.T) {
	st := open(t, etcdtest.Start(t))
	ctx := context.Background()
	if _, err := st.Apply(ctx, "/c", store.Idempotency{Key: "k", Request: "+1"}, add(1)); err != nil {
		t.Fatal(err)
	}
	_, err := st.Apply(ctx, "/c", store.Idempotency{Key: "k", Request: "+2"}, add(2))
	if !errors.Is(err, store.ErrKeyReused) {
		t.Fatalf("reused key with another request: err = %v, want ErrKeyReused", err)
	}
	if got := read(t, st, "/c"); got.N != 1 {
		t.Errorf("counter = %d, want 1", got.N)
	}
}

func TestApplyRecordsRefusalsAndSkipsErrors(t *testing.T) {
	st := open(t, etcdtest.Start(t))
	ctx := context.Background()
	refuse := func(store.Current) (store.Outcome, error) {
		return store.Outcome{Status: http.StatusConflict, Body: map[string]string{"error": "no"}}, nil
	}
	res, err := st.Apply(ctx, "/c", store.Idempotency{Key: "r", Request: "x"}, refuse)
	if err != nil || res.Status != http.StatusConflict || res.Replayed {
		t.Fatalf("refusal: %+v, %v", res, err)
	}
	// The refusal replays as a refusal, even though the counter could now be written.
	res, err = st.Apply(ctx, "/c", store.Idempotency{Key: "r", Request: "x"}, add(1))
	if err != nil || res.Status != http.StatusConflict || !res.Replayed {
		t.Fatalf("replayed refusal: %+v, %v", res, err)
	}
	// An error of the mutation records nothing: the key is free for a real attempt.
	boom := errors.New("boom")
	if _, err := st.Apply(ctx, "/c", store.Idempotency{Key: "e", Request: "x"}, func(store.Current) (store.Outcome, error) { return store.Outcome{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("mutation error: %v, want boom", err)
	}
	if res, err := st.Apply(ctx, "/c", store.Idempotency{Key: "e", Request: "x"}, add(1)); err != nil || res.Replayed {
		t.Fatalf("after an error: %+v, %v", res, err)
	}
}

func TestDeadEtcdIsUnavailableFast(t *testing.T) {
	srv := etcdtest.Start(t)
	const timeout = time.Second
	st := open(t, srv, store.WithRequestTimeout(timeout))
	ctx := context.Background()
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("ping a live etcd: %v", err)
	}
	srv.Kill()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"ping", func() error { return st.Ping(ctx) }},
		{"get", func() error { _, err := st.Get(ctx, "/c", &counter{}); return err }},
		{"apply", func() error { _, err := st.Apply(ctx, "/c", store.Idempotency{}, add(1)); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.call()
			took := time.Since(start)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if took > 3*timeout {
				t.Errorf("took %s with a request timeout of %s", took, timeout)
			}
		})
	}
	srv.Restart()
	deadline := time.Now().Add(30 * time.Second)
	for st.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("store did not come back within 30 s of etcd's restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestBeforeCommitAnswersFirstAndWritesOnClose(t *testing.T) {
	srv := etcdtest.Start(t)
	st, err := store.Open([]string{srv.Endpoint()}, store.WithAck(store.AckBeforeCommit), store.WithWriteBehindLag(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Apply(context.Background(), "/c", store.Idempotency{Key: "k", Request: "+1"}, add(1))
	if err != nil || res.Status != http.StatusOK {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	var c counter
	if err := json.Unmarshal(res.Body, &c); err != nil || c.N != 1 {
		t.Fatalf("answer %s, want n=1", res.Body)
	}
	reader := open(t, srv)
	if _, err := reader.Get(context.Background(), "/c", &c); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before the write-behind ran: err = %v, want ErrNotFound (acknowledged, not yet written)", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, reader, "/c"); got.N != 1 {
		t.Errorf("after close: counter = %d, want 1", got.N)
	}
}

func TestParseAck(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    store.Ack
		wantErr bool
	}{
		{"", store.AckAfterCommit, false},
		{"after-commit", store.AckAfterCommit, false},
		{"Before-Commit", store.AckBeforeCommit, false},
		{"never", store.AckAfterCommit, true},
	} {
		got, err := store.ParseAck(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseAck(%q) = %v, %v; want %v, error %t", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
