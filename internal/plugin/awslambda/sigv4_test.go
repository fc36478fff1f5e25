package awslambda

import (
	"net/http"
	"testing"
	"time"
)

// The get-vanilla case of AWS's Signature Version 4 test suite.
func TestSignGetVanilla(t *testing.T) {
	r, _ := http.NewRequest("GET", "https://example.amazonaws.com/", nil)
	r.Host = "example.amazonaws.com"
	at := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	sign(r, nil, Credentials{AccessKey: "AKIDEXAMPLE", SecretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}, "us-east-1", "service", at)
	want := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	if got := r.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization\n got %s\nwant %s", got, want)
	}
	if r.Header.Get("X-Amz-Date") != "20150830T123600Z" {
		t.Errorf("X-Amz-Date %q", r.Header.Get("X-Amz-Date"))
	}
}
