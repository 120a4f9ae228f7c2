package netns

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"chaoslab/internal/cmdutil"
)

func TestPreflightMessages(t *testing.T) {
	found := func(string) (string, error) { return "/usr/sbin/x", nil }
	missing := func(names ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			if slices.Contains(names, name) {
				return "", exec.ErrNotFound
			}
			return "/usr/sbin/" + name, nil
		}
	}
	scratchOK := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name     string
		uid      int
		lookPath func(string) (string, error)
		scratch  func(context.Context) error
		want     []string // substrings of the error; none: no error
		dontWant []string
	}{
		{name: "all there", uid: 0, lookPath: found, scratch: scratchOK},
		{name: "not root", uid: 1000, lookPath: found, scratch: scratchOK,
			want: []string{"not running as root", "sudo"}, dontWant: []string{"iproute2", "apt-get install -y iptables"}},
		{name: "no ip", uid: 0, lookPath: missing("ip"), scratch: scratchOK,
			want: []string{"`ip` not found", "apt-get install -y iproute2"}, dontWant: []string{"root", "install -y iptables"}},
		{name: "no iptables", uid: 0, lookPath: missing("iptables"), scratch: scratchOK,
			want: []string{"`iptables` not found", "apt-get install -y iptables"}, dontWant: []string{"root", "iproute2"}},
		{name: "nothing", uid: 1000, lookPath: missing("ip", "iptables"), scratch: scratchOK,
			want: []string{"not running as root", "apt-get install -y iproute2", "apt-get install -y iptables"}},
		{name: "iptables broken", uid: 0, lookPath: found,
			scratch: func(context.Context) error {
				return errors.New("iptables does not work in a network namespace: can't initialize iptables table `filter'\nsecond line")
			},
			want: []string{"iptables does not work", "can't initialize", "; second line"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scratchRan := false
			err := preflight(t.Context(), preflightEnv{
				geteuid:  func() int { return tc.uid },
				lookPath: tc.lookPath,
				scratch:  func(ctx context.Context) error { scratchRan = true; return tc.scratch(ctx) },
			})
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("preflight: %v", err)
				}
				if !scratchRan {
					t.Fatal("the scratch namespace check did not run")
				}
				return
			}
			if err == nil {
				t.Fatalf("preflight: no error, want one containing %q", tc.want)
			}
			if !errors.Is(err, cmdutil.ErrUsage) || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
				t.Errorf("preflight error %v is not a usage error (exit 2)", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("preflight error is not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("preflight error %q does not contain %q", msg, w)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(msg, w) {
					t.Errorf("preflight error %q contains %q", msg, w)
				}
			}
		})
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if err := ValidateID(id); err != nil {
			t.Fatalf("NewID() = %q: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
		for _, name := range []string{clientVeth(id), backendVeth(id), hostVeth(id), clientHostVeth(id)} {
			if len(name) > ifNameMax {
				t.Fatalf("interface name %q is longer than %d bytes", name, ifNameMax)
			}
		}
	}
}

func TestValidateID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"a", true}, {"abc123xyz", true}, {"", false}, {"abc123xyz0", false},
		{"ABC", false}, {"a-b", false}, {"a_b", false}, {"a/b", false}, {"a b", false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			if err := ValidateID(tc.id); (err == nil) != tc.ok {
				t.Fatalf("ValidateID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
			}
		})
	}
}

func TestCreateRejectsBadIDBeforeDoingAnything(t *testing.T) {
	s := newSys(nil)
	s.run = func(_ context.Context, name string, args ...string) ([]byte, error) {
		t.Fatalf("ran %s %v for a bad id", name, args)
		return nil, nil
	}
	if _, err := create(t.Context(), "Bad-ID", s); err == nil {
		t.Fatal("create accepted a bad id")
	}
}

func TestIDOfNames(t *testing.T) {
	for _, tc := range []struct{ name, ns, link string }{
		{name: "chaoslab-client-ab12", ns: "ab12"},
		{name: "chaoslab-backend-ab12", ns: "ab12"},
		{name: "chaoslab-preflight-zz9", ns: "zz9"},
		{name: "chaoslab-odd", ns: ""}, // no owner id: always a leftover
		{name: "chaoslab-", ns: ""},
		{name: "other-client-ab12", ns: ""},
		{name: "clb-ab12-h", link: "ab12"},
		{name: "clb-ab12-c", link: "ab12"},
		{name: "clb-", link: ""},
		{name: "clbx-ab12-h", link: ""},
	} {
		if got := idOfNS(tc.name); got != tc.ns {
			t.Errorf("idOfNS(%q) = %q, want %q", tc.name, got, tc.ns)
		}
		if got := idOfLink(tc.name); got != tc.link {
			t.Errorf("idOfLink(%q) = %q, want %q", tc.name, got, tc.link)
		}
	}
}

func TestParseLists(t *testing.T) {
	ns := parseNSList("chaoslab-backend-ab12\nchaoslab-client-ab12 (id: 3)\nsomeone-else (id: 1)\n")
	if want := []string{"chaoslab-backend-ab12", "chaoslab-client-ab12"}; !slices.Equal(ns, want) {
		t.Errorf("parseNSList = %v, want %v", ns, want)
	}
	links := parseLinkList(`1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
4: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc pfifo_fast state UP mode DEFAULT group default qlen 1000\    link/ether 02:fc:00:00:00:01 brd ff:ff:ff:ff:ff:ff
16: clb-ab12-h@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether ce:03:f7:22:4e:c4 brd ff:ff:ff:ff:ff:ff link-netns chaoslab-client-ab12
17: clb-cd34-h: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000\    link/ether 82:94:02:9a:60:f6 brd ff:ff:ff:ff:ff:ff
`)
	if want := []string{"clb-ab12-h", "clb-cd34-h"}; !slices.Equal(links, want) {
		t.Errorf("parseLinkList = %v, want %v", links, want)
	}
	addrs := parseAddrs(`1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\       valid_lft forever preferred_lft forever
16: clb-ab12-h    inet 198.18.9.5/30 scope global clb-ab12-h\       valid_lft forever preferred_lft forever
`)
	if want := []netip.Prefix{netip.MustParsePrefix("198.18.9.4/30")}; !slices.Equal(addrs, want) {
		t.Errorf("parseAddrs = %v, want %v", addrs, want)
	}
	routes := parseRoutes(`default via 192.0.2.1 dev eth0
198.0.0.0/8 via 192.0.2.1 dev eth0
198.18.9.4/30 dev clb-ab12-h proto kernel scope link src 198.18.9.5
local 198.18.9.5 dev clb-ab12-h table local proto kernel scope host src 198.18.9.5
blackhole 198.19.0.0/16
broadcast 192.0.2.255 dev eth0 table local proto kernel scope link src 192.0.2.2
`)
	want := []netip.Prefix{
		netip.MustParsePrefix("198.18.9.4/30"), netip.MustParsePrefix("198.18.9.5/32"), netip.MustParsePrefix("198.19.0.0/16"),
	}
	if !slices.Equal(routes, want) {
		t.Errorf("parseRoutes = %v, want %v", routes, want)
	}
}

func TestAllocate(t *testing.T) {
	bench := netip.MustParsePrefix("198.18.0.0/15")
	id := "ab12cd34"
	first, err := allocate(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	block := netip.PrefixFrom(first.client, 29).Masked()
	for _, a := range []netip.Addr{first.client, first.backend, first.host, first.clientHost} {
		if !bench.Contains(a) || !block.Contains(a) {
			t.Fatalf("address %v outside %v or its block %v", a, bench, block)
		}
	}
	if netip.PrefixFrom(first.client, 30).Masked() == netip.PrefixFrom(first.host, 30).Masked() {
		t.Fatalf("both veths share a /30: %+v", first)
	}
	if netip.MustParsePrefix("198.18.0.0/24").Contains(first.client) || netip.MustParsePrefix("198.19.255.0/24").Contains(first.client) {
		t.Fatalf("block %v in a reserved /24", block)
	}

	// Its block taken (by another topology's host address): the next free block is used.
	second, err := allocate(id, []netip.Prefix{netip.PrefixFrom(first.host, 30).Masked()})
	if err != nil {
		t.Fatal(err)
	}
	if block.Contains(second.client) {
		t.Fatalf("allocate reused the taken block %v", block)
	}
	// Everything taken: a clear error.
	if _, err := allocate(id, []netip.Prefix{bench}); err == nil || !strings.Contains(err.Error(), "no free /29") {
		t.Fatalf("allocate with the whole range taken: %v", err)
	}
}
