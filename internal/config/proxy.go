package config

import (
	"net/netip"
	"strconv"

	"gopkg.in/yaml.v3"
)

// MaxTrustedProxies bounds websocket.trusted_proxies.
const MaxTrustedProxies = 256

// trustedProxies decodes websocket.trusted_proxies: a list of IP
// addresses ("10.0.0.7", a prefix of one address) and CIDR prefixes
// ("10.0.0.0/8"), each checked at its line, IPv4-mapped IPv6 addresses
// taken as IPv4. An empty list gives nil, as in Default.
func trustedProxies(dst *[]netip.Prefix) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		seq := resolve(n)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			return d.errAt(n, key, typeErr("list", seq))
		}
		if len(seq.Content) > MaxTrustedProxies {
			return d.errAt(n, key, &detail{sentinel: ErrInvalidValue, msg: "at most " + strconv.Itoa(MaxTrustedProxies) + " entries"})
		}
		var out []netip.Prefix
		for i, e := range seq.Content {
			ek := key + "[" + strconv.Itoa(i) + "]"
			s, err := d.scalar(e, ek, "string")
			if err != nil {
				return err
			}
			p, err := parseProxy(s.Value)
			if err != nil {
				return d.errAt(e, ek, &detail{sentinel: ErrInvalidValue, msg: "want an IP address or a CIDR prefix such as 10.0.0.0/8, got " + quote(s.Value)})
			}
			out = append(out, p)
		}
		*dst = out
		return nil
	}
}

// parseProxy parses an address or a CIDR prefix, masked ("10.1.2.3/8" is
// 10.0.0.0/8), without zone.
func parseProxy(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().Is4In6() {
		bits := p.Bits() - 96
		if bits < 0 {
			return netip.Prefix{}, strconv.ErrRange
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), bits)
	}
	return p.Masked(), nil
}
