// Package auth checks the tokens of tickerd's clients: API keys listed in a
// file, and JWTs (github.com/golang-jwt/jwt/v5) signed with an HMAC secret,
// a PEM public key, or a key of a JWKS file. Auth is off unless a key file
// is configured.
//
//	a, err := auth.New(&auth.Options{
//		JWT:         auth.JWTOptions{JWKSFile: "/etc/tickerd/jwks.json", Issuer: "https://id.example"},
//		APIKeysFile: "/etc/tickerd/api-keys",
//		PublicPaths: []string{"/healthz", "/readyz", "/static/*"},
//		Logger:      logger,
//	})
//	if err != nil {
//		return err // names the file, and the line of the API keys file
//	}
//	go func() { done <- a.Run(ctx) }() // reloads changed JWKS and API keys files until ctx ends
//	r := chi.NewRouter()
//	r.Use(a.Middleware) // 401 without a valid token, except on public paths
//	r.Get("/api/quotes/{symbol}", func(w http.ResponseWriter, r *http.Request) {
//		p, _ := auth.FromContext(r.Context()) // nil, false when auth is off: nil allows everything
//		if !p.Allows(chi.URLParam(r, "symbol")) { ... 403 ... }
//	})
//
// A websocket that authenticates with its first message, or refreshes its
// token, calls Verify and arranges to close the connection at the new
// Principal's Expiry:
//
//	p, err := a.Verify(msg.Token)
//	switch {
//	case errors.Is(err, auth.ErrTokenExpired): // {"type":"error","code":"token_expired"}, close 1008
//	case err != nil: // invalid token, close 1008; log err, which never holds the token
//	case !p.Expiry().IsZero(): // API keys have none
//		timer.Reset(time.Until(p.Expiry()))
//	}
//
// # Tokens
//
// A token comes from "Authorization: Bearer <token>" or ?token=<token>.
// Verify first compares it, in constant time, with every API key; a
// token that is no API key must be a JWT. An API key grants everything and
// never expires; it ends when removed from the file.
//
// A JWT's alg must be one the configured keys can verify, and the key must
// fit it: HS256/384/512 use the HMAC secret only, RS*, PS*, ES* and EdDSA
// a public key of the matching type (and curve, and JWK alg). "none" is
// never accepted, and no key is taken from the token's own headers. exp is
// required; exp, nbf and iat are checked with a leeway (default 5s); iss
// and aud are checked when Issuer and Audience are set.
//
// Claims tickerd reads besides those:
//
//	sub          kept in the Principal but never shown: HasSubject only
//	symbols      ["BTC-*", "AAPL"]: path.Match patterns, ASCII case ignored, at
//	             most 256; absent (or null) means every symbol, [] means none
//	max_symbols  how many symbols at once; absent or 0 means no limit of the token's own
//	dynamic      may the client make tickerd collect symbols it does not
//	             collect yet; absent means true, so that a token without
//	             tickerd's claims grants what an anonymous client had before
//
// A rejected token's client is told only "invalid token" or "token
// expired" ("expired" only for a correctly signed token with nothing else
// wrong); the reason goes to the log.
//
// # Reloading
//
// The JWKS and API keys files are read again by Reload, which Run calls
// every Options.ReloadInterval (default 5s); a changed file (compared by
// SHA-256 of its content) is parsed and swapped in whole. A file that has
// gone or does not parse keeps its previous keys in use, and the problem is
// reported once per change. The HMAC secret and PEM public key are read
// once, by New.
package auth
