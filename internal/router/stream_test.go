package router

import (
	"net/netip"
	"testing"

	"sluice/internal/model"
)

func TestStreamMatch(t *testing.T) {
	ip := func(s string) *string { return &s }
	port := func(n int) *int { return &n }
	svc := &model.Service{ID: "s", Enabled: true, Protocol: "tcp"}
	off := &model.Service{ID: "off", Protocol: "tcp"}
	mk := func(id string, created int64, protocols []string, src, dst []model.CIDRPort, snis []string, s *model.Service) *model.Route {
		return &model.Route{ID: id, CreatedAt: created, Protocols: protocols, Sources: src, Destinations: dst, SNIs: snis, Service: &model.ForeignKey{ID: s.ID}}
	}
	routes := []*model.Route{
		mk("any-5555", 1, []string{"tcp", "tls"}, nil, []model.CIDRPort{{Port: port(5555)}}, nil, svc),
		mk("lan-5555", 3, []string{"tcp"}, []model.CIDRPort{{IP: ip("10.0.0.0/8")}}, []model.CIDRPort{{Port: port(5555)}}, nil, svc),
		mk("sni-a", 2, []string{"tls"}, nil, nil, []string{"A.test."}, svc),
		mk("pass-b", 2, []string{"tls_passthrough"}, nil, nil, []string{"b.test"}, svc),
		mk("port-0", 2, []string{"tcp"}, []model.CIDRPort{{IP: ip("192.0.2.0/24")}}, []model.CIDRPort{{Port: port(0)}}, nil, svc),
		mk("disabled", 0, []string{"tcp"}, nil, []model.CIDRPort{{IP: ip("192.0.2.1"), Port: port(7000)}}, nil, off),
		{ID: "http", Protocols: []string{"http"}, Paths: []string{"/"}, Service: &model.ForeignKey{ID: "s"}},
		{ID: "no-service", Protocols: []string{"tcp"}, Destinations: []model.CIDRPort{{Port: port(6000)}}},
	}
	sr, err := BuildStream(routes, map[string]*model.Service{"s": svc, "off": off})
	if err != nil {
		t.Fatal(err)
	}
	if sr.Len() != 6 {
		t.Fatalf("%d stream routes; want 6 (http and the disabled service's left out)", sr.Len())
	}
	ap := netip.MustParseAddrPort
	tests := []struct {
		in   StreamInput
		want string
	}{
		// Sources and destinations together rank with snis, above a
		// destination alone.
		{StreamInput{Src: ap("10.1.2.3:40000"), Dst: ap("127.0.0.1:5555")}, "lan-5555"},
		// Without a server name, a route's snis do not exclude it (Kong's
		// net.protocol ~= "tls" or tls.sni == ...); of equal priorities the
		// larger id wins.
		{StreamInput{Src: ap("192.0.2.9:40000"), Dst: ap("127.0.0.1:5555")}, "sni-a"},
		{StreamInput{Src: ap("10.1.2.3:40000"), Dst: ap("127.0.0.1:5556"), SNI: "A.test"}, "sni-a"}, // trailing dot dropped
		{StreamInput{Src: ap("10.1.2.3:40000"), Dst: ap("127.0.0.1:5556"), SNI: "a.TEST"}, ""},      // case-sensitive
		{StreamInput{Dst: ap("127.0.0.1:5555"), SNI: "b.test"}, "pass-b"},
		{StreamInput{Src: ap("192.0.2.9:40000"), Dst: ap("127.0.0.1:5555"), SNI: "x.test"}, "any-5555"},
		{StreamInput{Src: ap("[::ffff:10.0.0.1]:1"), Dst: ap("[::ffff:127.0.0.1]:5555")}, "lan-5555"}, // mapped IPv4
		{StreamInput{Src: ap("192.0.2.1:1"), Dst: ap("127.0.0.1:7000"), SNI: "x.test"}, ""},           // port 0 is a port
		{StreamInput{Src: ap("192.0.2.1:1"), Dst: ap("127.0.0.1:0"), SNI: "x.test"}, "port-0"},
		{StreamInput{Src: ap("192.0.2.1:1"), Dst: ap("127.0.0.1:6000"), SNI: "x.test"}, "no-service"},
	}
	for _, tt := range tests {
		r, _ := sr.Match(tt.in)
		got := ""
		if r != nil {
			got = r.ID
		}
		if got != tt.want {
			t.Errorf("%+v: %q; want %q", tt.in, got, tt.want)
		}
	}
	if _, err := BuildStream([]*model.Route{mk("bad", 0, []string{"tcp"}, []model.CIDRPort{{IP: ip("nope")}}, nil, nil, svc)}, map[string]*model.Service{"s": svc}); err == nil {
		t.Error("an invalid source ip built")
	}
}

func BenchmarkStreamMatch(b *testing.B) {
	svc := &model.Service{ID: "s", Enabled: true}
	var routes []*model.Route
	for i := range 200 {
		p := 10000 + i
		routes = append(routes, &model.Route{ID: string(rune('a' + i%26)), CreatedAt: int64(i), Protocols: []string{"tcp"},
			Destinations: []model.CIDRPort{{Port: &p}}, Service: &model.ForeignKey{ID: "s"}})
	}
	sr, err := BuildStream(routes, map[string]*model.Service{"s": svc})
	if err != nil {
		b.Fatal(err)
	}
	in := StreamInput{Src: netip.MustParseAddrPort("10.0.0.1:1"), Dst: netip.MustParseAddrPort("127.0.0.1:10199")}
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := sr.Match(in); r == nil {
			b.Fatal("no match")
		}
	}
}
