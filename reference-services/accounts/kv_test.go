package accounts_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/faultline/faultline/reference-services/accounts"
)

func TestRegister(t *testing.T) {
	c, _ := start(t)
	c.Must(http.StatusNotFound, "GET", "/v1/kv/x", "", "")
	c.Must(http.StatusNotFound, "POST", "/v1/kv/x/cas", "", `{"from": "1", "to": "2"}`)
	var reg accounts.Register
	c.Must(http.StatusOK, "PUT", "/v1/kv/x", "", `{"value": "1"}`).Decode(t, &reg)
	if reg != (accounts.Register{Key: "x", Value: "1", Version: 1}) {
		t.Errorf("put answered %+v", reg)
	}
	for _, tc := range []struct {
		name, body string
		status     int
		want       accounts.Register // after the call
	}{
		{"swap", `{"from": "1", "to": "2"}`, http.StatusOK, accounts.Register{Key: "x", Value: "2", Version: 2}},
		{"mismatch", `{"from": "1", "to": "3"}`, http.StatusConflict, accounts.Register{Key: "x", Value: "2", Version: 2}},
		{"swap to the same", `{"from": "2", "to": "2"}`, http.StatusOK, accounts.Register{Key: "x", Value: "2", Version: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Must(tc.status, "POST", "/v1/kv/x/cas", "", tc.body)
			var got accounts.Register
			c.Must(http.StatusOK, "GET", "/v1/kv/x", "", "").Decode(t, &got)
			if got != tc.want {
				t.Errorf("after %s: %+v, want %+v", tc.body, got, tc.want)
			}
		})
	}
}

func TestConcurrentCompareAndSetHasOneWinner(t *testing.T) {
	c, _ := start(t)
	c.Must(http.StatusOK, "PUT", "/v1/kv/x", "", `{"value": "0"}`)
	const n = 12
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = c.Do("POST", "/v1/kv/x/cas", "", fmt.Sprintf(`{"from": "0", "to": "w%d"}`, i)).Status
		}()
	}
	wg.Wait()
	winner := -1
	for i, s := range statuses {
		switch {
		case s == http.StatusOK && winner >= 0:
			t.Errorf("both %d and %d won", winner, i)
		case s == http.StatusOK:
			winner = i
		case s != http.StatusConflict:
			t.Errorf("CAS %d answered %d", i, s)
		}
	}
	if winner < 0 {
		t.Fatal("no CAS won")
	}
	var got accounts.Register
	c.Must(http.StatusOK, "GET", "/v1/kv/x", "", "").Decode(t, &got)
	if want := fmt.Sprintf("w%d", winner); got.Value != want || got.Version != 2 {
		t.Errorf("register = %+v, want value %s at version 2", got, want)
	}
}
