package plugin

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A Poster delivers with timeouts of 0 (nginx's default then), reports a
// redirect as a refusal instead of following it, and a 2xx as delivered.
func TestPoster(t *testing.T) {
	var got, redirected atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/elsewhere":
			redirected.Add(1)
		default:
			if r.Method == http.MethodPost && string(body) == "span" && r.Header.Get("Content-Type") == "application/json" {
				got.Add(1)
			}
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	errs := make(chan error, 4)
	p := NewPoster(PosterOptions{Endpoint: srv.URL + "/spans", ContentType: "application/json", Entries: 4, Bytes: 1 << 20})
	p.Put([]byte("span"))
	moved := NewPoster(PosterOptions{Endpoint: srv.URL + "/moved", Entries: 4, Bytes: 1 << 20, OnError: func(err error) { errs <- err }})
	moved.Put([]byte("span"))
	p.Stop()
	moved.Stop()
	<-p.box.Done()
	<-moved.box.Done()
	if got.Load() != 1 {
		t.Errorf("delivered %d, want 1 (timeouts of 0 must not expire at once)", got.Load())
	}
	select {
	case err := <-errs:
		var se *StatusError
		if !errors.As(err, &se) || se.Status != http.StatusFound {
			t.Errorf("redirect error %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a redirect was taken as delivered")
	}
	if redirected.Load() != 0 {
		t.Error("the redirect was followed")
	}
}
