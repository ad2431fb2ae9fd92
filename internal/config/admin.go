package config

// checkAdminListen accepts "" (no admin listener: metrics and health on
// the main one) or a host:port as for listen.
func checkAdminListen(s string) error {
	if s == "" {
		return nil
	}
	return checkListen(s)
}
