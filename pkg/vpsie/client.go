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
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// Version is reported in the User-Agent. Release builds set it with
// -ldflags "-X github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie.Version=v1.2.3".
var Version = "dev"

// Defaults, chosen to match VPSie's own tooling (100 requests/minute per account) and to keep
// a controller worker from blocking for long: anything longer is returned as an error to requeue.
const (
	DefaultBaseURL           = "https://api.vpsie.com"
	VMPrefixAPI              = "/api/v2"  // VM routes of the newest SDK (default)
	VMPrefixApps             = "/apps/v2" // VM routes of older VPSie code
	DefaultRequestsPerMinute = 100
	DefaultBurst             = 10
	DefaultMaxRetries        = 3
	DefaultRetryBaseDelay    = 500 * time.Millisecond
	DefaultRetryMaxDelay     = 10 * time.Second
	DefaultMaxWait           = 30 * time.Second
	DefaultRequestTimeout    = 30 * time.Second
	DefaultTokenRefreshSkew  = 5 * time.Minute
)

// Config configures a Client. Zero values mean the defaults above.
type Config struct {
	// BaseURL of the API, default https://api.vpsie.com (staging: https://api2.vpsie.com).
	BaseURL string
	// VMPathPrefix is the prefix of the VM routes: "/api/v2" (default) or "/apps/v2".
	// The pending queue is always under /apps/v2.
	VMPathPrefix string

	// Token is a static API token, sent as "Vpsie-Auth". It takes precedence over
	// ClientID/ClientSecret when both are set.
	Token string
	// ClientID and ClientSecret are exchanged for short-lived access tokens.
	ClientID     string
	ClientSecret string

	// HTTPClient sends the requests; default a new http.Client (timeouts come from
	// RequestTimeout and the caller's context).
	HTTPClient *http.Client
	// Version is put in the User-Agent "cluster-api-provider-vpsie/<Version>"; default the
	// package variable Version.
	Version string
	// Logger receives debug logs at V(1) and V(2); default logr.Discard(). Tokens, secrets,
	// passwords, user data and request bodies are never logged.
	Logger logr.Logger

	// RequestsPerMinute and Burst size the limiter shared by every Client with the same base
	// URL and credentials (see ratelimit.go). Defaults 100 and 10. They are ceilings: after
	// 429 answers the shared limiter slows down and recovers gradually.
	RequestsPerMinute float64
	Burst             int
	// StartWithoutBurst makes an account's limiter start empty instead of full: the account's budget
	// does not start again with the process, and a manager that restarts (a crash loop, a rollout, a
	// kill) would otherwise spend a fresh burst on top of what the previous process spent in the same
	// minute. The manager sets it; tests that want their first calls at once leave it off.
	StartWithoutBurst bool
	// MaxWait is the longest the client blocks on the limiter or on a Retry-After before
	// returning a RateLimited error carrying the wait. Default 30s.
	MaxWait time.Duration

	// MaxRetries is how many times an idempotent call is repeated on 429, 5xx and network
	// errors. 0 means the default (3); negative means never.
	MaxRetries int
	// RetryBaseDelay and RetryMaxDelay shape the exponential backoff with full jitter.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	// RequestTimeout bounds one HTTP attempt (the caller's context bounds the whole call).
	RequestTimeout time.Duration

	// TokenRefreshSkew is how long before expiry an access token is renewed. Default 5m.
	TokenRefreshSkew time.Duration
	// Now is the clock used for token expiry and Retry-After dates; default time.Now.
	Now func() time.Time
	// Sleep waits between retries; default a timer that stops early when ctx ends. Tests
	// inject a recorder. (The shared limiter always waits in real time.)
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client talks to the VPSie API. It is safe for concurrent use. It knows nothing of Kubernetes.
type Client struct {
	baseURL     string
	vmPrefix    string
	http        *http.Client
	log         logr.Logger
	userAgent   string
	limiter     *accountLimiter // shared by every Client of the account (ratelimit.go)
	auth        authenticator
	maxRetries  int
	baseDelay   time.Duration
	maxDelay    time.Duration
	maxWait     time.Duration
	timeout     time.Duration
	refreshSkew time.Duration
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error
	jitter      func(n int64) int64 // uniform in [0,n)
}

// New validates cfg and builds a Client.
func New(cfg Config) (*Client, error) {
	c := &Client{
		baseURL:     strings.TrimRight(orDefault(cfg.BaseURL, DefaultBaseURL), "/"),
		vmPrefix:    strings.TrimRight(orDefault(cfg.VMPathPrefix, VMPrefixAPI), "/"),
		http:        cfg.HTTPClient,
		log:         cfg.Logger,
		userAgent:   "cluster-api-provider-vpsie/" + orDefault(cfg.Version, Version),
		maxRetries:  cfg.MaxRetries,
		baseDelay:   durOr(cfg.RetryBaseDelay, DefaultRetryBaseDelay),
		maxDelay:    durOr(cfg.RetryMaxDelay, DefaultRetryMaxDelay),
		maxWait:     durOr(cfg.MaxWait, DefaultMaxWait),
		timeout:     durOr(cfg.RequestTimeout, DefaultRequestTimeout),
		refreshSkew: durOr(cfg.TokenRefreshSkew, DefaultTokenRefreshSkew),
		now:         cfg.Now,
		sleep:       cfg.Sleep,
		jitter:      randInt63n,
	}
	if !strings.HasPrefix(c.baseURL, "http://") && !strings.HasPrefix(c.baseURL, "https://") {
		return nil, errors.New("vpsie: BaseURL must start with http:// or https://")
	}
	if !strings.HasPrefix(c.vmPrefix, "/") {
		return nil, errors.New(`vpsie: VMPathPrefix must be an absolute path such as "/api/v2"`)
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.log.GetSink() == nil {
		c.log = logr.Discard()
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	var identity string
	switch {
	case cfg.Token != "":
		c.auth = &staticAuth{tok: cfg.Token}
		identity = "token\x00" + cfg.Token
	case cfg.ClientID != "" && cfg.ClientSecret != "":
		c.auth = &credentialAuth{c: c, clientID: cfg.ClientID, clientSecret: cfg.ClientSecret}
		identity = "client\x00" + cfg.ClientID
	default:
		return nil, errors.New("vpsie: set Token, or ClientID and ClientSecret")
	}
	perMinute := cfg.RequestsPerMinute
	if perMinute <= 0 {
		perMinute = DefaultRequestsPerMinute
	}
	burst := cfg.Burst
	if burst <= 0 {
		burst = DefaultBurst
	}
	c.limiter = sharedLimiter(limiterKey(c.baseURL, identity), perMinute, burst, cfg.StartWithoutBurst)
	return c, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func durOr(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
