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

package vpsiesim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// refreshLifetime is how long issued refresh tokens claim to live. No route accepts them (the doc shows no
// refresh endpoint); clients log in again.
const refreshLifetime = 7 * 24 * time.Hour

// Credentials are what the simulator accepts. See Options for the meaning of each field.
type Credentials struct {
	ClientID        string   `json:"clientId"`
	ClientSecret    string   `json:"clientSecret"`
	Tokens          []string `json:"tokens"`
	AccountPassword string   `json:"accountPassword"`
}

type issuedToken struct {
	expires time.Time
	refresh bool
}

// SetCredentials replaces the accepted credentials at run time (credential rotation). Tokens already issued by
// login stay valid until they expire or are revoked.
func (s *Simulator) SetCredentials(c Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Tokens = append([]string(nil), c.Tokens...)
	s.creds = c
}

// RevokeTokens invalidates every token issued by login so far (static tokens are unaffected). Later logins work.
func (s *Simulator) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]issuedToken{}
}

// ExpireTokens makes every token issued so far expire now.
func (s *Simulator) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for k, t := range s.tokens {
		t.expires = past
		s.tokens[k] = t
	}
}

// IssuedTokens reports how many access tokens login has issued that are still valid.
func (s *Simulator) IssuedTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, now := 0, time.Now()
	for _, t := range s.tokens {
		if !t.refresh && now.Before(t.expires) {
			n++
		}
	}
	return n
}

// TokensIssued returns every token login has issued, access and refresh tokens, in issue order — expired and
// revoked ones included: e.g. to check that none of them shows in a client's log.
func (s *Simulator) TokensIssued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issuedLog...)
}

// authenticate accepts a static token in Vpsie-Auth, or an issued, unexpired access token in Vpsie-Auth or in
// "Authorization: Bearer". Static tokens are not accepted as Bearer tokens.
func (s *Simulator) authenticate(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := strings.TrimSpace(r.Header.Get("Vpsie-Auth")); t != "" {
		for _, st := range s.creds.Tokens {
			if st != "" && equal(st, t) {
				return true
			}
		}
		if s.issuedValid(t) {
			return true
		}
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "Bearer ") {
		return s.issuedValid(strings.TrimSpace(a[7:]))
	}
	return false
}

func (s *Simulator) issuedValid(t string) bool {
	it, ok := s.tokens[t]
	return ok && !it.refresh && time.Now().Before(it.expires)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

type tokenPair struct {
	Token   string `json:"token"`
	Expires string `json:"expires"`
}

// handleLogin serves POST /apps/v2/auth/from/api. A form-urlencoded body gets the autoscaler's answer shape,
// anything else is read as JSON and gets the SDK's shape.
func (s *Simulator) handleLogin(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	form := mt == "application/x-www-form-urlencoded"
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBodyBytes))
	if err != nil {
		writeError(w, http.StatusBadRequest, msgBadBody)
		return
	}
	var id, secret string
	if form {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			writeError(w, http.StatusBadRequest, msgBadBody)
			return
		}
		id, secret = v.Get("clientId"), v.Get("clientSecret")
	} else {
		var in struct {
			ClientID     string `json:"clientId"`
			ClientSecret string `json:"clientSecret"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			writeError(w, http.StatusBadRequest, msgBadBody)
			return
		}
		id, secret = in.ClientID, in.ClientSecret
	}
	if id == "" || secret == "" {
		writeError(w, http.StatusBadRequest, "clientId and clientSecret are required")
		return
	}

	s.mu.Lock()
	ok := s.creds.ClientID != "" && equal(id, s.creds.ClientID) && equal(secret, s.creds.ClientSecret)
	var access, refresh tokenPair
	if ok {
		now := time.Now()
		access = tokenPair{Token: newToken(), Expires: now.Add(s.opts.TokenLifetime).UTC().Format(time.RFC3339)}
		refresh = tokenPair{Token: newToken(), Expires: now.Add(refreshLifetime).UTC().Format(time.RFC3339)}
		s.tokens[access.Token] = issuedToken{expires: now.Add(s.opts.TokenLifetime)}
		s.tokens[refresh.Token] = issuedToken{expires: now.Add(refreshLifetime), refresh: true}
		s.issuedLog = append(s.issuedLog, access.Token, refresh.Token)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusUnauthorized, msgBadClientCreds)
		return
	}

	if form {
		writeJSON(w, http.StatusOK, map[string]tokenPair{"accessToken": access, "refreshToken": refresh})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"error": false,
		"token": map[string]tokenPair{"access": access, "refresh": refresh},
	})
}

func newToken() string { return "simtok-" + randomHex(24) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID returns a random version-4 UUID.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
