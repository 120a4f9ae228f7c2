package netns

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// Name prefixes. Anything carrying them is ours and is removed by CleanupLeftovers once its owner is
// gone.
const (
	// NSPrefix starts the name of every namespace this package makes.
	NSPrefix = "chaoslab-"
	// LinkPrefix starts the name of every veth this package makes.
	LinkPrefix = "clb-"
)

// Linux limits interface names to IFNAMSIZ-1 = 15 bytes; the longest veth name is
// LinkPrefix + id + "-x", which leaves maxIDLen bytes for the id.
const (
	ifNameMax = 15
	maxIDLen  = ifNameMax - len(LinkPrefix) - len("-x")
	idLen     = 8 // what NewID makes
)

// idAlphabet is what ids are made of: lower-case letters and digits, valid in interface names,
// namespace names and file names alike.
const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns a fresh random topology id: 8 lower-case letters and digits, short enough for
// every veth name of the topology to fit in a Linux interface name. Safe for concurrent use.
func NewID() string {
	b := make([]byte, idLen)
	// Unbiased: 256 is not a multiple of 36, so draw until each byte falls in range.
	var buf [1]byte
	for i := 0; i < len(b); {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails on Linux
		if buf[0] >= 252 {       // 252 = 7*36
			continue
		}
		b[i] = idAlphabet[int(buf[0])%len(idAlphabet)]
		i++
	}
	return string(b)
}

// ValidateID reports whether id can name a topology: 1 to 9 lower-case letters or digits.
func ValidateID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("netns: topology id %q: want 1 to %d characters", id, maxIDLen)
	}
	for _, r := range id {
		if !strings.ContainsRune(idAlphabet, r) {
			return fmt.Errorf("netns: topology id %q: only lower-case letters and digits are allowed", id)
		}
	}
	return nil
}

// Names of the namespaces and links of the topology with the given id.
func clientNSName(id string) string  { return NSPrefix + "client-" + id }
func backendNSName(id string) string { return NSPrefix + "backend-" + id }
func clientVeth(id string) string    { return LinkPrefix + id + "-c" } // client ns, towards the backend
func backendVeth(id string) string   { return LinkPrefix + id + "-b" } // backend ns, towards the client
func hostVeth(id string) string      { return LinkPrefix + id + "-h" } // root ns, towards the client
func clientHostVeth(id string) string {
	return LinkPrefix + id + "-r" // client ns, towards the root ns
}

// idOfNS returns the topology id of a namespace name of ours ("chaoslab-<role>-<id>"), or "" when
// the name does not end in a valid id.
func idOfNS(name string) string {
	rest, ok := strings.CutPrefix(name, NSPrefix)
	if !ok {
		return ""
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 || ValidateID(rest[i+1:]) != nil {
		return ""
	}
	return rest[i+1:]
}

// idOfLink returns the topology id of a link name of ours ("clb-<id>-<x>"), or "".
func idOfLink(name string) string {
	rest, ok := strings.CutPrefix(name, LinkPrefix)
	if !ok {
		return ""
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 || ValidateID(rest[:i]) != nil {
		return ""
	}
	return rest[:i]
}
