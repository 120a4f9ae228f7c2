package netns

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"
)

// Address plan. Each topology gets one /29 block of 198.18.0.0/15 (RFC 2544 benchmarking space,
// never routed on the internet), split in two /30s:
//
//	base+1 ClientAddr      base+2 BackendAddr       client <-> backend
//	base+5 HostAddr        base+6 ClientHostAddr    root   <-> client
//
// The first and last /24 of the range are left alone for whoever else uses it by hand.
const (
	benchBase  = uint32(198)<<24 | uint32(18)<<16 // 198.18.0.0
	benchBits  = 15
	blockSize  = 8  // a /29
	prefixLen  = 30 // each veth link
	firstSlot  = 256 / blockSize
	slotCount  = (1<<(32-benchBits) - 2*256) / blockSize
	maxProbing = 1024 // blocks tried before giving up
)

// addrPlan is the addresses of one block.
type addrPlan struct {
	client, backend, host, clientHost netip.Addr
}

func u32Addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func slotPrefix(slot int) netip.Prefix {
	return netip.PrefixFrom(u32Addr(benchBase+uint32(slot)*blockSize), 29)
}

func planFor(slot int) addrPlan {
	b := benchBase + uint32(slot)*blockSize
	return addrPlan{client: u32Addr(b + 1), backend: u32Addr(b + 2), host: u32Addr(b + 5), clientHost: u32Addr(b + 6)}
}

// homeSlot is where the search for a free block starts: derived from the id, so that two
// topologies made at the same moment almost never race for the same block.
func homeSlot(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return firstSlot + int(h.Sum32()%slotCount)
}

// allocate picks the first block, from the id's home slot on, that overlaps nothing in used.
func allocate(id string, used []netip.Prefix) (addrPlan, error) {
	home := homeSlot(id) - firstSlot
	for i := range maxProbing {
		slot := firstSlot + (home+i)%slotCount
		p := slotPrefix(slot)
		free := true
		for _, u := range used {
			if u.Overlaps(p) {
				free = false
				break
			}
		}
		if free {
			return planFor(slot), nil
		}
	}
	return addrPlan{}, fmt.Errorf("netns: no free /29 in 198.18.0.0/15 after %d tries: remove old topologies (CleanupLeftovers)", maxProbing)
}

// usedPrefixes lists the root namespace's IPv4 addresses and routes that fall in 198.18.0.0/15.
// Every live topology has its HostAddr there, so its whole block shows as used.
func (s sys) usedPrefixes(ctx context.Context) ([]netip.Prefix, error) {
	addrs, err := s.ip(ctx, "-4", "-o", "addr", "show")
	if err != nil {
		return nil, err
	}
	routes, err := s.ip(ctx, "-4", "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	return append(parseAddrs(string(addrs)), parseRoutes(string(routes))...), nil
}

// isRouteType reports whether an `ip route` line starts with a route type rather than a destination.
func isRouteType(s string) bool {
	switch s {
	case "unicast", "local", "broadcast", "multicast", "anycast",
		"blackhole", "unreachable", "prohibit", "throw", "nat":
		return true
	}
	return false
}

// parseAddrs reads `ip -4 -o addr show` ("4: eth0    inet 198.18.1.5/30 brd ... scope ...").
func parseAddrs(out string) []netip.Prefix {
	var ps []netip.Prefix
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				ps = appendBench(ps, f[i+1])
			}
		}
	}
	return ps
}

// parseRoutes reads `ip -4 route show table all` ("[type] dest ...").
func parseRoutes(out string) []netip.Prefix {
	var ps []netip.Prefix
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) > 1 && isRouteType(f[0]) {
			f = f[1:]
		}
		if len(f) > 0 {
			ps = appendBench(ps, f[0])
		}
	}
	return ps
}

// appendBench appends s ("a.b.c.d" or "a.b.c.d/n") when it lies inside 198.18.0.0/15. Broader
// routes (a default route, 198.0.0.0/8) are not conflicts: our /30s are more specific.
func appendBench(ps []netip.Prefix, s string) []netip.Prefix {
	var p netip.Prefix
	var err error
	if strings.Contains(s, "/") {
		p, err = netip.ParsePrefix(s)
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(s)
		p = netip.PrefixFrom(a, 32)
	}
	if err != nil || !p.Addr().Is4() || p.Bits() < benchBits {
		return ps
	}
	if !netip.PrefixFrom(u32Addr(benchBase), benchBits).Overlaps(p) {
		return ps
	}
	return append(ps, p.Masked())
}
