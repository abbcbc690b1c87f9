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
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// request describes one API call. Every call names whether it is idempotent: only idempotent
// calls are ever repeated after a 429, 5xx or network error, because VPSie's creates return no
// id, so a repeated create after a lost answer would make a second server.
type request struct {
	op     string     // stable operation name for metrics and logs
	method string     // HTTP method
	path   string     // absolute path under the base URL
	query  url.Values // optional query
	body   any        // JSON body (DELETEs carry bodies too)
	form   url.Values // form-urlencoded body, instead of body
	// idempotent: GETs, DELETEs of a known identifier, and read-only POST queries.
	idempotent bool
	// notFoundIsTerminal: for creates, "not found" means a referenced plan/image/datacenter
	// does not exist, which no retry fixes.
	notFoundIsTerminal bool
}

func (r request) encode() ([]byte, string, error) {
	switch {
	case r.form != nil:
		return []byte(r.form.Encode()), "application/x-www-form-urlencoded", nil
	case r.body != nil:
		b, err := json.Marshal(r.body)
		return b, "application/json", err
	}
	return nil, "", nil
}

// do runs a call: shared budget, authentication, one re-login after a 401, and retries with
// backoff for idempotent calls. It returns the successful answer or a classified *Error.
//
// It also records, for NotSent, whether VPSie may have acted on the call: errors produced
// before anything was sent are marked notProcessed, and once an attempt may have been processed
// (no answer, a 5xx ...) every later error of the call is marked mayHaveBeenProcessed.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	processed := false // some attempt may have been acted on
	// beforeSending finishes with an error produced before the next attempt was sent.
	beforeSending := func(e *Error) error {
		if processed {
			e.processing = mayHaveBeenProcessed
		} else {
			e.processing = notProcessed
		}
		return c.fail(e)
	}
	// answered finishes with the error of a sent attempt.
	answered := func(e *Error) error {
		if processed {
			e.processing = mayHaveBeenProcessed
		}
		return c.fail(e)
	}
	payload, ctype, err := r.encode()
	if err != nil {
		return nil, beforeSending(&Error{Operation: r.op, Class: ClassTerminal, Message: "cannot encode request", Err: err})
	}
	target := c.baseURL + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var last *Error
	reloggedIn := false
	retries := 0
	honourHold := true
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, beforeSending(contextError(r.op, err, last))
		}
		if err := c.waitForBudget(ctx, r.op, honourHold); err != nil {
			return nil, beforeSending(withOperation(r.op, err))
		}
		token, err := c.auth.token(ctx)
		if err != nil {
			return nil, beforeSending(withOperation(r.op, err))
		}
		sentAt := c.limiter.now()
		status, hdr, raw, apiErr := c.send(ctx, r.op, r.method, target, payload, ctype,
			func(h http.Header) { c.auth.apply(h, token) }, attempt)
		if apiErr == nil {
			var res *response
			res, apiErr = interpret(r.op, status, hdr, raw, c.now())
			c.limiter.observe(sentAt, apiErr)
			if apiErr == nil {
				return res, nil
			}
		}
		if r.notFoundIsTerminal && apiErr.Class == ClassNotFound {
			apiErr.Class = ClassTerminal
		}
		if !apiErr.refusedUnprocessed() {
			processed = true
		}
		last = apiErr
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, beforeSending(contextError(r.op, ctxErr, apiErr))
		}
		// A 401 means the API refused the request before acting on it, so even a create may
		// be sent again — once, after a fresh login shared with concurrent callers.
		if apiErr.Class == ClassUnauthorized && c.auth.renewable() && !reloggedIn {
			reloggedIn = true
			c.auth.invalidate(token)
			retriesTotal.WithLabelValues(r.op, "unauthorized").Inc()
			c.log.V(1).Info("VPSie API refused the access token; logging in again", "operation", r.op)
			continue
		}
		if !r.idempotent || retries >= c.maxRetries ||
			(apiErr.Class != ClassTransient && apiErr.Class != ClassRateLimited) {
			return nil, answered(apiErr)
		}
		delay, source := apiErr.RetryAfter, "retry_after"
		if delay <= 0 {
			delay, source = c.backoff(retries), ""
		} else if delay > c.maxWait {
			return nil, answered(apiErr) // told to wait longer than we block: let the caller requeue
		}
		if exceedsDeadline(ctx, time.Now(), delay) {
			if apiErr.RetryAfter == 0 {
				apiErr.RetryAfter = delay
			}
			return nil, answered(apiErr)
		}
		if source != "" {
			rateLimitWaitSeconds.WithLabelValues(source).Add(delay.Seconds())
		}
		retriesTotal.WithLabelValues(r.op, retryReason(apiErr)).Inc()
		c.log.V(1).Info("retrying VPSie API call", "operation", r.op, "attempt", attempt,
			"status", apiErr.HTTPStatus, "class", string(apiErr.Class), "delay", delay)
		if err := c.sleep(ctx, delay); err != nil {
			return nil, beforeSending(contextError(r.op, err, apiErr))
		}
		// Having waited out a Retry-After of its own, this call does not wait again for the
		// hold that the same answer put on the account: from now on it follows the Retry-After
		// of its own answers, and the hold is for the other callers of the account.
		if source != "" && apiErr.Class == ClassRateLimited {
			honourHold = false
		}
		retries++
	}
}

// send performs one HTTP exchange and records its metrics and debug log. It returns the
// status, headers and body, or a transient *Error when no answer was received.
func (c *Client) send(ctx context.Context, op, method, target string, payload []byte, ctype string,
	auth func(http.Header), attempt int) (int, http.Header, []byte, *Error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, method, target, body)
	if err != nil {
		return 0, nil, nil, refusedBeforeSending(&Error{Operation: op, Class: ClassTerminal, Message: "cannot build request", Err: err})
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth != nil {
		auth(req.Header)
	}

	start := time.Now()
	resp, err := c.http.Do(req)
	var raw []byte
	if err == nil {
		raw, err = io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
		_ = resp.Body.Close()
	}
	elapsed := time.Since(start)
	requestDuration.WithLabelValues(op).Observe(elapsed.Seconds())

	if err != nil {
		code := "network"
		e := &Error{Operation: op, Class: ClassTransient, Message: "request failed", Err: err}
		switch {
		case ctx.Err() != nil:
			code = "canceled"
			e = contextError(op, ctx.Err(), nil)
		case actx.Err() != nil:
			e.Message = "request timed out after " + c.timeout.String()
		}
		requestsTotal.WithLabelValues(op, code).Inc()
		c.log.V(1).Info("VPSie API request", "operation", op, "method", method, "attempt", attempt,
			"duration", elapsed, "result", code)
		return 0, nil, nil, e
	}
	code := strconv.Itoa(resp.StatusCode)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 && bodyFlagsError(raw) {
		code = "error"
	}
	requestsTotal.WithLabelValues(op, code).Inc()
	c.log.V(1).Info("VPSie API request", "operation", op, "method", method, "attempt", attempt,
		"duration", elapsed, "status", resp.StatusCode)
	return resp.StatusCode, resp.Header, raw, nil
}

// bodyFlagsError cheaply tells whether a 2xx body is an error envelope, for the metrics label.
func bodyFlagsError(raw []byte) bool {
	var probe struct {
		Error json.RawMessage `json:"error"`
	}
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &probe) != nil {
		return false
	}
	return len(probe.Error) > 0 && truthy(probe.Error)
}

// backoff is exponential with full jitter: uniform in [0, min(max, base·2^retry)].
func (c *Client) backoff(retry int) time.Duration {
	ceiling := c.maxDelay
	if retry < 30 {
		if d := c.baseDelay << retry; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return time.Duration(c.jitter(int64(ceiling) + 1))
}

func randInt63n(n int64) int64 { return rand.Int64N(n) }

func retryReason(e *Error) string {
	switch {
	case e.Class == ClassRateLimited:
		return "rate_limited"
	case e.HTTPStatus >= 500:
		return "server_error"
	case e.HTTPStatus == 0:
		return "network"
	}
	return "server_error"
}

// fail counts and logs an error returned to the caller.
func (c *Client) fail(e *Error) error {
	if e.Class == ClassNotFound {
		notFoundTotal.WithLabelValues(e.Operation).Inc()
	} else {
		errorsTotal.WithLabelValues(e.Operation, string(e.Class)).Inc()
	}
	c.log.V(1).Info("VPSie API call failed", "operation", e.Operation, "class", string(e.Class),
		"status", e.HTTPStatus, "code", e.Code, "retryAfter", e.RetryAfter, "error", e.Error())
	return e
}
