// Package egress is the one way the server sends requests out to systems a
// business runs (HTTP tools now, signed webhooks later). Every request is
// signed, time-limited and size-limited, never follows a redirect, and is
// checked against refused address ranges at connect time, after DNS
// resolution (STYLE.md habit 23): the check runs in the dialer's Control
// hook, on the very address the socket is about to connect to, so a name
// that resolves differently on a second lookup (DNS rebinding) gains
// nothing.
package egress

import (
	"fmt"
	"net/netip"
)

// refusedPrefixes are the ranges no request may reach unless the operator
// allows them with TOOL_ALLOWED_NETWORKS. The embedding forms of IPv6
// (IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64, 6to4, Teredo) are unwrapped and their IPv4
// address checked too (embeddedV4).
var refusedPrefixes = []struct {
	p    netip.Prefix
	name string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (cloud metadata)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved or broadcast"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("fc00::/7"), "unique-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Embedding forms: an IPv6 address that carries an IPv4 address inside.
var (
	mapped4   = netip.MustParsePrefix("::ffff:0:0/96")         // IPv4-mapped
	compat4   = netip.MustParsePrefix("::/96")                 // IPv4-compatible (deprecated)
	siit4     = netip.MustParsePrefix("::ffff:0:0:0/96")       // IPv4-translated (SIIT, RFC 2765)
	nat64     = netip.MustParsePrefix("64:ff9b::/96")          // well-known NAT64 prefix
	sixToFour = netip.MustParsePrefix("2002::/16")             // 6to4: the IPv4 address in bits 16-47
	teredo    = netip.MustParsePrefix("2001::/32")             // Teredo: the client's IPv4 inverted in the last 32 bits
	v4InLast  = []netip.Prefix{mapped4, compat4, siit4, nat64} // IPv4 in the last 32 bits
)

// embeddedV4 returns the IPv4 address an IPv6 address carries, if any.
func embeddedV4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	for _, p := range v4InLast {
		if p.Contains(a) {
			return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
		}
	}
	if sixToFour.Contains(a) {
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	if teredo.Contains(a) {
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), true
	}
	return netip.Addr{}, false
}

// Refused says why a may not be reached, or "" when it may: a is inside
// allowed, or in none of the refused ranges (nor carries an IPv4 address
// that is). A zone (fe80::1%eth0) is ignored for the comparison.
func Refused(a netip.Addr, allowed []netip.Prefix) string {
	a = a.WithZone("")
	if !a.IsValid() {
		return "not an IP address"
	}
	inner, embeds := embeddedV4(a)
	for _, p := range allowed {
		if p.Contains(a) || (embeds && p.Contains(inner)) {
			return ""
		}
	}
	if why := refusedRange(a); why != "" {
		return why
	}
	if embeds {
		if why := refusedRange(inner); why != "" {
			return why + " (inside " + a.String() + ")"
		}
	}
	return ""
}

func refusedRange(a netip.Addr) string {
	for _, r := range refusedPrefixes {
		if r.p.Contains(a) {
			return r.name
		}
	}
	// The standard library's own classification, as a second net.
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "link-local"
	case a.IsMulticast():
		return "multicast"
	case a.IsUnspecified():
		return "unspecified"
	}
	return ""
}

// RefusedError is a connection refused by the guard before it was made.
type RefusedError struct {
	Addr   netip.Addr
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("egress: %s is refused (%s); allow it with TOOL_ALLOWED_NETWORKS if it is yours", e.Addr, e.Reason)
}
