package egress

import (
	"net/netip"
	"testing"
)

func TestRefusedRanges(t *testing.T) {
	refused := []string{
		"0.0.0.0", "0.1.2.3", // unspecified, this network
		"127.0.0.1", "127.255.255.254", // loopback
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", // RFC 1918
		"100.64.0.1", "100.127.255.254", // CGNAT
		"169.254.169.254", "169.254.0.1", // link-local, cloud metadata
		"224.0.0.1", "239.255.255.250", // multicast
		"255.255.255.255", "240.0.0.1", // broadcast, reserved
		"192.0.0.170", "198.18.0.1",
		"::", "::1", // unspecified, loopback
		"fc00::1", "fd12:3456::1", // unique-local
		"fe80::1", "fe80::1%eth0", "febf::1", // link-local
		"fec0::1",            // site-local
		"ff02::1", "ff05::2", // multicast
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0", // IPv4-mapped
		"::127.0.0.1", "::10.0.0.1", // IPv4-compatible
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", // NAT64 of loopback, metadata, private
		"64:ff9b:1::1",          // local-use NAT64
		"2002:7f00:1::1",        // 6to4 of loopback
		"2002:a9fe:a9fe::1",     // 6to4 of metadata
		"2001:0:1:2::80ff:fffe", // Teredo of 127.0.0.1 (inverted)
		"100::1",                // discard-only
	}
	for _, s := range refused {
		a := netip.MustParseAddr(s)
		if Refused(a, nil) == "" {
			t.Errorf("%s is not refused", s)
		}
	}
	public := []string{"93.184.216.34", "8.8.8.8", "1.1.1.1", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "2001:4860:4860::8888", "64:ff9b::5db8:d822", "::ffff:93.184.216.34"}
	for _, s := range public {
		if why := Refused(netip.MustParseAddr(s), nil); why != "" {
			t.Errorf("%s refused: %s", s, why)
		}
	}
}

func TestAllowedNetworks(t *testing.T) {
	allowed := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("fd00:1::/64")}
	for _, s := range []string{"127.0.0.1", "127.9.9.9", "::ffff:127.0.0.1", "fd00:1::5"} {
		if why := Refused(netip.MustParseAddr(s), allowed); why != "" {
			t.Errorf("%s refused despite allowed: %s", s, why)
		}
	}
	for _, s := range []string{"10.0.0.1", "::1", "fd00:2::5", "169.254.169.254"} {
		if Refused(netip.MustParseAddr(s), allowed) == "" {
			t.Errorf("%s allowed", s)
		}
	}
	if Refused(netip.Addr{}, nil) == "" {
		t.Error("the zero address is allowed")
	}
}

// TestIPv4TranslatedRefused: the IPv4-translated form of SIIT
// (::ffff:0:a.b.c.d, RFC 2765), which a stateless translator on the path
// turns into the IPv4 address, is unwrapped like the other embedding
// forms; a public address inside it stays reachable.
func TestIPv4TranslatedRefused(t *testing.T) {
	for _, s := range []string{"::ffff:0:7f00:1", "::ffff:0:a9fe:a9fe", "::ffff:0:a00:1"} {
		if Refused(netip.MustParseAddr(s), nil) == "" {
			t.Errorf("%s is not refused", s)
		}
	}
	if why := Refused(netip.MustParseAddr("::ffff:0:5db8:d822"), nil); why != "" {
		t.Errorf("::ffff:0:5db8:d822 (93.184.216.34) refused: %s", why)
	}
}
