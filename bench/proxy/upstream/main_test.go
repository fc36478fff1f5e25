package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(handler))
	defer srv.Close()
	tests := []struct {
		path string
		want int
	}{{"/small", 13}, {"/r7/small", 13}, {"/16k", 16384}, {"/r7/16k", 16384}, {"/", 13}}
	for _, tt := range tests {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) != tt.want || resp.ContentLength != int64(tt.want) {
			t.Errorf("GET %s: status %d, %d bytes, Content-Length %d; want 200 and %d bytes", tt.path, resp.StatusCode, len(body), resp.ContentLength, tt.want)
		}
	}
}
