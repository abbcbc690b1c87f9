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
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrorClass says what a caller can do about an error. Controllers map classes to behaviour:
// Transient → requeue with backoff, RateLimited → requeue after RetryAfter, Terminal and
// Unauthorized → a Ready=False condition and no hot loop, NotFound → usually "already gone".
type ErrorClass string

const (
	// ClassTransient covers network failures, timeouts, 5xx answers and HTML gateway pages:
	// the same call may well succeed later.
	ClassTransient ErrorClass = "Transient"
	// ClassRateLimited means the API (429) or the client's own shared budget refused the call;
	// Error.RetryAfter says how long to wait when known.
	ClassRateLimited ErrorClass = "RateLimited"
	// ClassTerminal means retrying cannot help: unknown plan/image/datacenter, validation
	// failures, quotas, 400/403/422 answers. A human has to change something.
	ClassTerminal ErrorClass = "Terminal"
	// ClassUnauthorized means the credentials were refused (after one re-login for client
	// credentials). Nothing but new credentials can fix it.
	ClassUnauthorized ErrorClass = "Unauthorized"
	// ClassNotFound means the object does not exist (404, "not found" messages, data:false).
	ClassNotFound ErrorClass = "NotFound"
)

// Error is the only error type the client returns. It carries enough to classify, log and
// requeue without parsing strings. Err, when set, is the underlying cause (network error,
// context error, decode error) and is reachable with errors.Is / errors.As.
type Error struct {
	// Operation is the stable operation name ("ListVMs", "CreateVM", "Login"), never a URL.
	Operation string
	// HTTPStatus is the HTTP status code, 0 when no response was received.
	HTTPStatus int
	// Code is the "code" field of the VPSie error envelope, 0 when absent.
	Code int
	// Message is the API's message, or a description written by the client.
	Message string
	// RetryAfter is how long the caller should wait before trying again, when known
	// (Retry-After header, or the client-side limiter's reservation delay).
	RetryAfter time.Duration
	// Class is the error's classification; see ErrorClass.
	Class ErrorClass
	// Err is the wrapped cause, if any.
	Err error

	// processing records what the client knows about whether VPSie acted on the call; see
	// NotSent. Unexported so that only the client can claim "certainly not processed": the
	// zero value defers to the answer's class and status.
	processing processing
}

// processing is the client's own knowledge of whether a call reached VPSie's handlers.
type processing uint8

const (
	// The zero value: nothing is known beyond the answer itself (class and HTTP status).
	_ processing = iota
	// notProcessed: the client refused the call before sending anything (validation, encoding,
	// its own budget, a failed login, a context already done), or every attempt it sent was
	// refused before processing (401, 429, a 4xx refusal).
	notProcessed
	// mayHaveBeenProcessed: an attempt of this call may have been acted on (an earlier attempt of
	// a retried call timed out or got a 5xx), whatever the last answer says.
	mayHaveBeenProcessed
)

// Error implements error. It never contains request bodies, tokens or passwords.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("vpsie")
	if e.Operation != "" {
		b.WriteString(" ")
		b.WriteString(e.Operation)
	}
	b.WriteString(": ")
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, "HTTP %d: ", e.HTTPStatus)
	}
	if e.Code != 0 && e.Code != e.HTTPStatus {
		fmt.Fprintf(&b, "code %d: ", e.Code)
	}
	msg := e.Message
	switch {
	case msg == "" && e.Err != nil:
		msg = e.Err.Error()
	case e.Err != nil:
		msg += ": " + e.Err.Error()
	case msg == "":
		msg = "unknown error"
	}
	b.WriteString(msg)
	fmt.Fprintf(&b, " (%s", e.Class)
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	b.WriteString(")")
	return b.String()
}

// Unwrap exposes the cause, so errors.Is(err, context.Canceled) works.
func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err: the Class of a wrapped *Error, ClassTransient for bare
// context errors, and "" for nil or foreign errors.
func ClassOf(err error) ErrorClass {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ClassTransient
	}
	return ""
}

// IsNotFound reports whether err says the object does not exist.
func IsNotFound(err error) bool { return ClassOf(err) == ClassNotFound }

// IsUnauthorized reports whether the API refused the credentials.
func IsUnauthorized(err error) bool { return ClassOf(err) == ClassUnauthorized }

// IsTransient reports whether the call may succeed if repeated later (network, 5xx, gateway
// pages, timeouts, context expiry).
func IsTransient(err error) bool { return ClassOf(err) == ClassTransient }

// IsTerminal reports whether retrying cannot help. Refused credentials count as terminal too:
// no retry fixes them, the caller must wait for its Secret to change.
func IsTerminal(err error) bool {
	c := ClassOf(err)
	return c == ClassTerminal || c == ClassUnauthorized
}

// IsRateLimited reports whether err is a rate-limit refusal, and how long to wait when known.
func IsRateLimited(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.Class == ClassRateLimited {
		return e.RetryAfter, true
	}
	return 0, false
}

// NotSent reports whether err proves that VPSie did not act on the call, so that a caller may
// treat a failed create as "nothing was created" and forget it instead of waiting to prove the
// absence of what it asked for. It is true for:
//
//   - errors the client produced before sending anything: an empty identifier or missing
//     required field, a body that cannot be encoded, the client's own rate limit (shared budget
//     or a Retry-After hold on the account), a login that failed before the call could be sent,
//     and a context that was already done before sending;
//   - RateLimited answers (an API 429, or a rate-limit message): a rate limiter answers before
//     the request is processed;
//   - Unauthorized answers: the credentials are checked before anything is done (the client
//     relies on the same fact to send a create again after a re-login);
//   - Terminal and NotFound answers carrying an HTTP 4xx status (400 validation refusals, 403,
//     422, a 404 for a referenced plan or image, ...): HTTP says a 4xx request was refused.
//
// It is false for everything that may have been processed: network errors, timeouts, a context
// that ended while the request was in flight, 5xx answers and HTML gateway pages, transient
// answers of any status, undecodable or incomplete answers, and answers classified Terminal
// only from their wording or envelope code while the HTTP status was 2xx or 5xx (VPSie answers
// "200 with error:true" and "500 with a quota message" from inside its handlers, where part of
// the work may already be done). It is also false when an earlier attempt of a retried call
// may have been processed, whatever the last attempt's answer. Foreign errors and nil are false.
func NotSent(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.refusedUnprocessed()
}

// refusedUnprocessed applies NotSent's rules to e alone.
func (e *Error) refusedUnprocessed() bool {
	switch e.processing {
	case notProcessed:
		return true
	case mayHaveBeenProcessed:
		return false
	}
	switch {
	case e.Class == ClassRateLimited, e.Class == ClassUnauthorized:
		return true
	case inRange(e.HTTPStatus, 400, 499):
		return e.Class == ClassTerminal || e.Class == ClassNotFound
	}
	return false
}

// refusedBeforeSending marks e as produced by the client before anything was sent.
func refusedBeforeSending(e *Error) *Error {
	e.processing = notProcessed
	return e
}

// RetryAfter returns the wait carried by err (any class), or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// classifyInput is what the classifier looks at: nothing else is known about VPSie errors.
type classifyInput struct {
	Status  int    // HTTP status
	Code    int    // envelope "code", 0 when absent
	Message string // envelope "message"
	JSON    bool   // whether the body was JSON at all
}

// classificationRule is one row of the classification table. Rules are tried in order; the
// first match wins.
type classificationRule struct {
	name  string
	match func(in classifyInput) bool
	class ErrorClass
}

// classificationRules documents how VPSie errors are classified. VPSie documents neither
// status codes nor messages, so these are heuristics, kept in this one table (and tested
// row by row in errors_test.go):
//
//   - The envelope "code" is used like a status when it is in 400..599 (the API often
//     answers HTTP 200 or 500 with the real meaning in "code" or only in the message).
//   - Wording beats status: "Worker nodes count exceeds the allowed limit 5" arrives with
//     code 500 but is a quota, i.e. terminal.
//   - Rate-limit wording is checked before the generic "limit" of quotas.
//   - A non-JSON 404 is a missing *route* (wrong base URL or VM prefix), not a missing object:
//     it is terminal, so a misconfiguration never looks like "server already deleted".
//   - Unknown errors default to transient: a wrongly transient error costs a backoff loop, a
//     wrongly terminal one would stop a machine that could have been created.
var classificationRules = []classificationRule{
	{"429 status or code", func(in classifyInput) bool { return statusOrCode(in, http.StatusTooManyRequests) }, ClassRateLimited},
	{"rate-limit wording", msgHas("too many requests", "rate limit", "ratelimit", "throttl", "slow down"), ClassRateLimited},
	{"401 status or code", func(in classifyInput) bool { return statusOrCode(in, http.StatusUnauthorized) }, ClassUnauthorized},
	{"authentication wording", msgHas("please authenticate", "unauthorized", "unauthenticated", "invalid token",
		"token expired", "jwt expired", "expired token", "invalid credential", "authentication failed",
		"invalid client"), ClassUnauthorized},
	{"non-JSON 404 (missing route)", func(in classifyInput) bool { return !in.JSON && in.Status == http.StatusNotFound }, ClassTerminal},
	{"not-found wording", msgHas("not found", "does not exist", "doesn't exist", "not exist", "no such"), ClassNotFound},
	{"404 status or code", func(in classifyInput) bool { return statusOrCode(in, http.StatusNotFound) }, ClassNotFound},
	{"non-JSON 5xx (gateway page)", func(in classifyInput) bool { return !in.JSON && in.Status >= 500 }, ClassTransient},
	{"transient wording", transientWording, ClassTransient},
	{"quota/validation wording", msgHas("exceed", "limit", "quota", "insufficient", "balance", "invalid",
		"required", "not allowed", "not available", "already exist", "must be", "not valid", "unknown",
		"forbidden", "permission", "not supported", "suspended"), ClassTerminal},
	{"4xx status or code", func(in classifyInput) bool { return inRange(in.Status, 400, 499) || inRange(in.Code, 400, 499) }, ClassTerminal},
	{"5xx status or code", func(in classifyInput) bool { return inRange(in.Status, 500, 599) || inRange(in.Code, 500, 599) }, ClassTransient},
}

// transientWording matches messages that say the call may succeed later ("please try again later").
var transientWording = msgHas("try again", "temporarily", "timeout", "timed out", "service unavailable",
	"bad gateway", "maintenance", "econnreset", "socket hang up")

// classify applies classificationRules; unmatched errors are transient (see the rules' doc).
func classify(in classifyInput) ErrorClass {
	for _, r := range classificationRules {
		if r.match(in) {
			return r.class
		}
	}
	return ClassTransient
}

func statusOrCode(in classifyInput, want int) bool { return in.Status == want || in.Code == want }

func inRange(v, lo, hi int) bool { return v >= lo && v <= hi }

func msgHas(words ...string) func(classifyInput) bool {
	return func(in classifyInput) bool {
		m := strings.ToLower(in.Message)
		for _, w := range words {
			if strings.Contains(m, w) {
				return true
			}
		}
		return false
	}
}

// contextError builds the error returned when the caller's context ends. It wraps the context
// error (so errors.Is works) and mentions the last API error, if any, in the message.
func contextError(op string, ctxErr error, last *Error) *Error {
	e := &Error{Operation: op, Class: ClassTransient, Message: "context ended", Err: ctxErr}
	if last != nil {
		e.HTTPStatus = last.HTTPStatus
		e.Code = last.Code
		e.Message = "context ended after: " + last.Message
		e.RetryAfter = last.RetryAfter
	}
	return e
}

// withOperation re-labels an error produced on behalf of another operation (a login made
// while serving ListVMs is reported as ListVMs, with the login error as cause).
func withOperation(op string, err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		return &Error{Operation: op, Class: ClassTransient, Message: "unexpected error", Err: err}
	}
	if e.Operation == op {
		return e
	}
	return &Error{
		Operation: op, HTTPStatus: e.HTTPStatus, Code: e.Code, RetryAfter: e.RetryAfter,
		Class: e.Class, Message: e.Operation + " failed", Err: e,
	}
}
