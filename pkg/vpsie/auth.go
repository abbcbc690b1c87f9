/*
Copyright 2026 The cluster-api-provider-vpsie Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package vpsie

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// loginPath is where client credentials are exchanged for an access token.
const loginPath = "/apps/v2/auth/from/api"

const (
	// loginTimeout bounds a login. A login runs detached from the context of the caller that
	// started it, because other callers may be waiting for the same login (single-flight).
	loginTimeout = 30 * time.Second
	// defaultTokenLifetime is assumed when a login answer carries no usable expiry
	// (tokens are said to live about an hour).
	defaultTokenLifetime = 30 * time.Minute
)

// After a failed login no other login is sent until a backoff ends; meanwhile every call fails
// fast (or keeps using a still-valid token). Without it, every call of every worker would send
// its own login to an API that is down or refusing us. A login that failed on the way (network,
// timeout, 5xx, an HTML page, 429) backs off exponentially from loginBackoffBase to
// loginBackoffMax; a refused one (401, rejected credentials, an answer without a token) cannot
// be fixed by time, only by new credentials — which come as a new Client — so it backs off
// longer. A successful login resets the backoff.
const (
	loginBackoffBase         = time.Second
	loginBackoffMax          = time.Minute
	loginRejectedBackoffBase = 30 * time.Second
	loginRejectedBackoffMax  = 10 * time.Minute
)

// authenticator supplies the credentials for one request.
type authenticator interface {
	// token returns the token to send, logging in first when needed.
	token(ctx context.Context) (string, error)
	// apply sets the authentication headers.
	apply(h http.Header, token string)
	// renewable reports whether a 401 can be cured by logging in again.
	renewable() bool
	// invalidate forgets token after the API refused it (no-op if already replaced).
	invalidate(token string)
}

// staticAuth sends a long-lived API token as "Vpsie-Auth" (no "Bearer"), as every production
// VPSie consumer does. There is nothing to renew: a 401 is final.
type staticAuth struct{ tok string }

func (s *staticAuth) token(context.Context) (string, error) { return s.tok, nil }
func (s *staticAuth) apply(h http.Header, token string)     { h.Set("Vpsie-Auth", token) }
func (s *staticAuth) renewable() bool                       { return false }
func (s *staticAuth) invalidate(string)                     {}

// loginStyle is how the login body is encoded. Sources disagree (the SDK sends JSON, the
// autoscaler — claimed tested on production — sends a form), so the client tries JSON first,
// falls back to a form, and remembers what worked.
type loginStyle int

const (
	styleUnknown loginStyle = iota
	styleJSON
	styleForm
)

func (s loginStyle) String() string {
	switch s {
	case styleJSON:
		return "json"
	case styleForm:
		return "form"
	}
	return "unknown"
}

// credentialAuth logs in with a client id and secret and keeps the access token fresh. It is
// safe for concurrent use; concurrent callers needing a login share one (single-flight).
type credentialAuth struct {
	c            *Client
	clientID     string
	clientSecret string

	mu        sync.Mutex
	tok       string
	refreshAt time.Time // proactive refresh point (expiry minus skew)
	expiresAt time.Time
	style     loginStyle
	inflight  *loginCall
	failures  int       // consecutive failed logins
	retryAt   time.Time // no login is sent before this (backoff after a failure)
	lastErr   *Error    // the failure that started the current backoff
}

// loginCall is one login shared by every caller that needed a token while it ran.
type loginCall struct {
	done chan struct{}
	tok  string
	err  error
}

func (a *credentialAuth) renewable() bool { return true }

// apply sends the token both ways: VPSie's own header, and the Bearer form the autoscaler uses.
func (a *credentialAuth) apply(h http.Header, token string) {
	h.Set("Vpsie-Auth", token)
	h.Set("Authorization", "Bearer "+token)
}

func (a *credentialAuth) invalidate(token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok == token {
		a.tok, a.refreshAt, a.expiresAt = "", time.Time{}, time.Time{}
	}
}

func (a *credentialAuth) token(ctx context.Context) (string, error) {
	a.mu.Lock()
	now := a.c.now()
	if a.tok != "" && now.Before(a.refreshAt) {
		tok := a.tok
		a.mu.Unlock()
		return tok, nil
	}
	if now.Before(a.retryAt) {
		// A login failed recently. A token that is still valid keeps serving (a failed
		// proactive refresh is not fatal); otherwise fail fast without sending a login.
		if a.tok != "" && now.Before(a.expiresAt) {
			tok := a.tok
			a.mu.Unlock()
			return tok, nil
		}
		err := a.backingOff(now)
		a.mu.Unlock()
		return "", err
	}
	call := a.inflight
	if call == nil {
		call = &loginCall{done: make(chan struct{})}
		a.inflight = call
		go a.runLogin(context.WithoutCancel(ctx), call)
	}
	a.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
		return "", contextError("Login", ctx.Err(), nil)
	}
	if call.err == nil {
		return call.tok, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// A failed *proactive* refresh is not fatal: the old token is still valid for a while.
	if a.tok != "" && a.c.now().Before(a.expiresAt) {
		a.c.log.V(1).Info("VPSie token refresh failed; using the current token until it expires",
			"expiresAt", a.expiresAt, "error", call.err.Error())
		return a.tok, nil
	}
	return "", call.err
}

// runLogin performs the login for call and publishes its result.
func (a *credentialAuth) runLogin(parent context.Context, call *loginCall) {
	ctx, cancel := context.WithTimeout(parent, loginTimeout)
	defer cancel()
	tok, expires, err := a.login(ctx)

	a.mu.Lock()
	now := a.c.now()
	if err == nil {
		a.tok, a.expiresAt = tok, expires
		a.refreshAt = refreshPoint(now, expires, a.c.refreshSkew)
		a.failures, a.retryAt, a.lastErr = 0, time.Time{}, nil
	} else if e := asError(err); e != nil {
		if d, ok := a.nextBackoff(e); ok {
			a.retryAt, a.lastErr = now.Add(d), e
			a.c.log.V(1).Info("VPSie login failed; not logging in again before the backoff ends",
				"failures", a.failures, "backoff", d, "class", string(e.Class), "status", e.HTTPStatus)
		}
	}
	a.inflight = nil
	call.tok, call.err = tok, err
	a.mu.Unlock()
	close(call.done)
}

// nextBackoff counts a failed login and returns how long to wait before the next one. A login
// refused by our own budget (nothing was sent) starts no backoff. Called with a.mu held.
func (a *credentialAuth) nextBackoff(err *Error) (time.Duration, bool) {
	if err.HTTPStatus == 0 && err.Class == ClassRateLimited {
		return 0, false
	}
	base, ceiling := loginBackoffBase, loginBackoffMax
	if err.Class == ClassUnauthorized || err.Class == ClassTerminal {
		base, ceiling = loginRejectedBackoffBase, loginRejectedBackoffMax
	}
	a.failures++
	d := ceiling
	if n := a.failures - 1; n < 30 {
		if v := base << n; v > 0 && v < ceiling {
			d = v
		}
	}
	if err.RetryAfter > d { // the server asked for longer (429 or 503 with Retry-After)
		d = min(err.RetryAfter, loginRejectedBackoffMax)
	}
	return d, true
}

// backingOff is the error of a call that needs a login during the backoff: the class of the
// failed login (Unauthorized and Terminal stay what they are, so refused credentials still read
// as such; anything else is Transient, or RateLimited after a 429) and the remaining wait.
// Called with a.mu held.
func (a *credentialAuth) backingOff(now time.Time) *Error {
	last := a.lastErr
	class := last.Class
	switch class {
	case ClassUnauthorized, ClassTerminal, ClassRateLimited:
	default:
		class = ClassTransient
	}
	return &Error{Operation: "Login", HTTPStatus: last.HTTPStatus, Code: last.Code, Class: class,
		RetryAfter: a.retryAt.Sub(now), Message: "a recent login failed; waiting for the backoff before the next", Err: last}
}

// refreshPoint is when to log in again: skew before expiry, but never less than half the
// token's lifetime away, so a short-lived token (or a skewed clock) cannot cause a login per call.
func refreshPoint(now, expires time.Time, skew time.Duration) time.Time {
	life := expires.Sub(now)
	if skew >= life {
		return now.Add(life / 2)
	}
	return expires.Add(-skew)
}

// login tries the remembered style, or JSON then form, and records the outcome.
func (a *credentialAuth) login(ctx context.Context) (string, time.Time, error) {
	a.mu.Lock()
	style := a.style
	a.mu.Unlock()
	styles := []loginStyle{styleJSON, styleForm}
	if style != styleUnknown {
		styles = []loginStyle{style}
	}
	var lastErr *Error
	for i, s := range styles {
		tok, exp, err := a.loginOnce(ctx, s)
		if err == nil {
			a.mu.Lock()
			a.style = s
			a.mu.Unlock()
			loginsTotal.WithLabelValues("success").Inc()
			a.c.log.V(1).Info("logged in to the VPSie API", "style", s.String(), "expiresAt", exp)
			return tok, exp, nil
		}
		lastErr = err
		if i+1 < len(styles) && shouldFallBack(err) {
			a.c.log.V(1).Info("VPSie login refused in this style, trying the next",
				"style", s.String(), "status", err.HTTPStatus)
			continue
		}
		break
	}
	result := "error"
	if lastErr.Class == ClassUnauthorized || lastErr.Class == ClassTerminal {
		result = "rejected"
	}
	loginsTotal.WithLabelValues(result).Inc()
	return "", time.Time{}, lastErr
}

// credentialWords mark an answer that rejected the credentials themselves (so another body
// encoding would be refused too).
var credentialWords = msgHas("invalid credential", "bad credential", "wrong", "incorrect",
	"invalid client", "invalid secret", "authentication failed", "not match")

// shouldFallBack decides whether a refused JSON login is worth retrying as a form. Yes when
// the server did not understand the body (400/404/405/415/422, a 2xx without a token, an
// error envelope or 401 that does not talk about credentials); no for network errors,
// timeouts, 429 and 5xx (the style is not the problem) and for rejected credentials.
func shouldFallBack(err *Error) bool {
	if err.HTTPStatus == 0 || err.HTTPStatus == http.StatusTooManyRequests || err.HTTPStatus >= 500 {
		return false
	}
	return !credentialWords(classifyInput{Message: err.Message})
}

// loginOnce sends one login request in the given style and parses either answer shape.
func (a *credentialAuth) loginOnce(ctx context.Context, style loginStyle) (string, time.Time, *Error) {
	var body []byte
	var ctype string
	if style == styleForm {
		body = []byte(url.Values{"clientId": {a.clientID}, "clientSecret": {a.clientSecret}}.Encode())
		ctype = "application/x-www-form-urlencoded"
	} else {
		body, _ = json.Marshal(map[string]string{"clientId": a.clientID, "clientSecret": a.clientSecret})
		ctype = "application/json"
	}
	const op = "Login"
	if err := a.c.waitForBudget(ctx, op, true); err != nil {
		return "", time.Time{}, withOperation(op, err)
	}
	sentAt := a.c.limiter.now()
	status, hdr, raw, err := a.c.send(ctx, op, http.MethodPost, a.c.baseURL+loginPath, body, ctype, nil, 1)
	if err != nil {
		return "", time.Time{}, err
	}
	_, apiErr := interpret(op, status, hdr, raw, a.c.now())
	a.c.limiter.observe(sentAt, apiErr)
	if apiErr != nil {
		if apiErr.HTTPStatus < 300 && apiErr.Class == ClassTransient && bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) &&
			!transientWording(classifyInput{Message: apiErr.Message}) {
			// An error envelope at 2xx with no known wording. One that says "try again" stays transient: made
			// terminal, it would stop every call of the account for the whole login backoff.
			apiErr.Class = ClassTerminal
		}
		if apiErr.Class == ClassNotFound {
			// "Not found" from the login route is a misconfiguration (base URL), never a
			// missing object: passed on as is, it would make the caller's object look deleted.
			apiErr.Class = ClassTerminal
		}
		return "", time.Time{}, apiErr
	}
	tok, expires, ok := parseLoginAnswer(raw)
	if !ok {
		return "", time.Time{}, &Error{Operation: op, HTTPStatus: status, Class: ClassTerminal,
			Message: "login answer carried no access token"}
	}
	now := a.c.now()
	if expires.IsZero() || !expires.After(now) {
		expires = now.Add(defaultTokenLifetime)
	}
	return tok, expires, nil
}

// tokenPair is {"token","expires"} in both answer shapes.
type tokenPair struct {
	Token   String `json:"token"`
	Expires String `json:"expires"`
}

// parseLoginAnswer accepts, with or without a "data" wrapper:
//
//	{"error":false,"token":{"access":{"token","expires"},"refresh":{...}}}   (SDK)
//	{"accessToken":{"token","expires"},"refreshToken":{...}}                 (autoscaler)
//
// The refresh token is not kept: no refresh endpoint is known, so renewal is a new login.
func parseLoginAnswer(raw []byte) (string, time.Time, bool) {
	var shape struct {
		Token       json.RawMessage `json:"token"`
		AccessToken json.RawMessage `json:"accessToken"`
		Data        json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &shape); err != nil {
		return "", time.Time{}, false
	}
	var access tokenPair
	switch {
	case len(shape.AccessToken) > 0 && shape.AccessToken[0] == '{':
		_ = json.Unmarshal(shape.AccessToken, &access)
	case len(shape.AccessToken) > 0:
		access.Token = String(scalarText(shape.AccessToken))
	case len(shape.Token) > 0 && shape.Token[0] == '{':
		var nested struct {
			Access tokenPair `json:"access"`
		}
		_ = json.Unmarshal(shape.Token, &nested)
		access = nested.Access
	case len(shape.Token) > 0:
		access.Token = String(scalarText(shape.Token))
	case len(shape.Data) > 0 && shape.Data[0] == '{':
		return parseLoginAnswer(shape.Data)
	}
	if access.Token == "" {
		return "", time.Time{}, false
	}
	return string(access.Token), parseExpiry(string(access.Expires)), true
}

// parseExpiry reads an RFC 3339 timestamp (what VPSie sends); the zero time means unknown.
func parseExpiry(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
