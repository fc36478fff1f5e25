package upconn

import (
	"bufio"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
)

// fieldsString renders fields as sorted "Name: value" lines, skipping the
// fields net/http rewrites (Transfer-Encoding and Trailer removed,
// Content-Length deduplicated or dropped for chunked bodies, Connection:
// close removed).
func fieldsString(h http.Header) string {
	var l []string
	for k, vs := range h {
		switch k {
		case "Transfer-Encoding", "Content-Length", "Trailer", "Connection":
			continue
		}
		for _, v := range vs {
			l = append(l, k+": "+v)
		}
	}
	sort.Strings(l)
	return strings.Join(l, "\n")
}

func toHeader(fs []Field) http.Header {
	h := http.Header{}
	for _, f := range fs {
		h[f.Name] = append(h[f.Name], f.Value)
	}
	return h
}

// FuzzResponseAgainstNetHTTP parses the same bytes with the own parser and
// net/http's ReadResponse. When the own parser takes a head, net/http must
// take it too (never laxer: a head net/http refuses could desynchronize a
// connection), with the same status, fields, framing, body and trailers.
// Seeds cover chunk-size lines (extensions, leading zeros, whitespace,
// overflow), field lines (whitespace around names and values, bare LF,
// empty values, repeated names) and trailer sections.
func FuzzResponseAgainstNetHTTP(f *testing.F) {
	seeds := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0005\r\nhello\r\n000\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0 ;x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\nx-other:  2 \r\nX-T: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nContent-Length: 9\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nBad Trailer: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n folded: 1\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 2\nX-Lf: 1\n\nok",
		"HTTP/1.1 200 OK\r\nX :v\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX:\tv\t\r\nY:\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nx-lower-CASE: v\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x7fb\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\xc3\xa9: v\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n1234567",
		"HTTP/1.1 200 OK\r\nContent-Length:  3 \r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nrest",
		"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 200\r\n\r\n",
		"HTTP/1.1 200 \r\n\r\n",
		"HTTP/1.1 999 Custom\r\nContent-Length: 0\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		c, res, err := readFinal(string(data), head)
		if err != nil {
			return
		}
		method := "GET"
		if head {
			method = "HEAD"
		}
		br := bufio.NewReader(strings.NewReader(string(data)))
		hr, herr := http.ReadResponse(br, &http.Request{Method: method})
		for herr == nil && hr.StatusCode < 200 {
			hr, herr = http.ReadResponse(br, &http.Request{Method: method})
		}
		if herr != nil {
			t.Fatalf("own parser took a head net/http refuses (%v): %+v", herr, *res)
		}
		if hr.StatusCode != res.Status {
			t.Fatalf("status %d; net/http %d", res.Status, hr.StatusCode)
		}
		if a, b := fieldsString(toHeader(res.Fields)), fieldsString(hr.Header); a != b {
			t.Fatalf("fields\n%s\nnet/http\n%s", a, b)
		}
		if res.Chunked != (len(hr.TransferEncoding) > 0) && !head && hr.StatusCode != 204 && hr.StatusCode != 304 {
			t.Fatalf("chunked %v; net/http %v", res.Chunked, hr.TransferEncoding)
		}
		if res.ContentLength >= 0 && !head && res.ContentLength != hr.ContentLength {
			t.Fatalf("Content-Length %d; net/http %d", res.ContentLength, hr.ContentLength)
		}
		body, berr := io.ReadAll(io.LimitReader(c, 1<<20))
		hb, hberr := io.ReadAll(io.LimitReader(hr.Body, 1<<20))
		if berr == nil && hberr == nil {
			if string(body) != string(hb) {
				t.Fatalf("body %q; net/http %q", body, hb)
			}
			if a, b := fieldsString(toHeader(res.Trailers)), fieldsString(hr.Trailer); res.Chunked && a != b {
				t.Fatalf("trailers\n%s\nnet/http\n%s", a, b)
			}
		}
		// Bodies net/http refuses but the own parser reads are allowed:
		// whitespace before a chunk extension (RFC 9112's BWS) and bare
		// LF line ends in chunk lines, both of which nginx accepts too.
	})
}
