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
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestClassificationRules pins every row of classificationRules, and the precedence between
// them, with messages of the kind VPSie sends.
func TestClassificationRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   classifyInput
		want ErrorClass
	}{
		{"429", classifyInput{Status: 429, JSON: true}, ClassRateLimited},
		{"code 429 at 200", classifyInput{Status: 200, Code: 429, Message: "x", JSON: true}, ClassRateLimited},
		{"rate-limit wording beats quota 'limit'", classifyInput{Status: 200, Message: "Rate limit exceeded", JSON: true}, ClassRateLimited},
		{"throttled", classifyInput{Status: 500, Message: "Request throttled", JSON: true}, ClassRateLimited},
		{"401", classifyInput{Status: 401, Message: "Please authenticate", JSON: true}, ClassUnauthorized},
		{"auth wording at 200", classifyInput{Status: 200, Message: "jwt expired", JSON: true}, ClassUnauthorized},
		{"non-JSON 404 is a missing route", classifyInput{Status: 404, Message: "Not Found (non-JSON body)"}, ClassTerminal},
		{"not-found wording at 500", classifyInput{Status: 500, Code: 500, Message: "VM not found", JSON: true}, ClassNotFound},
		{"does not exist", classifyInput{Status: 200, Message: "Vpc does not exist", JSON: true}, ClassNotFound},
		{"JSON 404", classifyInput{Status: 404, Message: "Missing", JSON: true}, ClassNotFound},
		{"code 404 at 200", classifyInput{Status: 200, Code: 404, Message: "gone", JSON: true}, ClassNotFound},
		{"HTML 502", classifyInput{Status: 502, Message: "Bad Gateway (non-JSON body)"}, ClassTransient},
		{"HTML 504 even with 'limit' text", classifyInput{Status: 504, Message: "limit"}, ClassTransient},
		{"try again", classifyInput{Status: 200, Message: "Something went wrong, please try again", JSON: true}, ClassTransient},
		{"timeout at 400", classifyInput{Status: 400, Message: "Upstream timeout", JSON: true}, ClassTransient},
		{"quota with code 500", classifyInput{Status: 500, Code: 500, Message: "Worker nodes count exceeds the allowed limit 5", JSON: true}, ClassTerminal},
		{"quota at 200", classifyInput{Status: 200, Code: 500, Message: "Worker nodes count exceeds the allowed limit 5", JSON: true}, ClassTerminal},
		{"invalid image", classifyInput{Status: 200, Message: "Invalid osIdentifier", JSON: true}, ClassTerminal},
		{"required field", classifyInput{Status: 500, Message: "dcIdentifier is required", JSON: true}, ClassTerminal},
		{"insufficient balance", classifyInput{Status: 200, Message: "Insufficient balance", JSON: true}, ClassTerminal},
		{"hostname taken", classifyInput{Status: 200, Message: "Hostname already exists", JSON: true}, ClassTerminal},
		{"400", classifyInput{Status: 400, Message: "Bad Request", JSON: true}, ClassTerminal},
		{"403", classifyInput{Status: 403, Message: "Forbidden", JSON: true}, ClassTerminal},
		{"422", classifyInput{Status: 422, Message: "Unprocessable", JSON: true}, ClassTerminal},
		{"code 400 at 200", classifyInput{Status: 200, Code: 400, Message: "nope", JSON: true}, ClassTerminal},
		{"JSON 500 unknown", classifyInput{Status: 500, Message: "Internal Server Error", JSON: true}, ClassTransient},
		{"code 503 at 200", classifyInput{Status: 200, Code: 503, Message: "nope", JSON: true}, ClassTransient},
		{"unknown error at 200 defaults to transient", classifyInput{Status: 200, Message: "Something happened", JSON: true}, ClassTransient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(classify(tc.in)).To(Equal(tc.want))
		})
	}
}

func TestEveryClassificationRuleIsReachable(t *testing.T) {
	// Guards the table: a rule shadowed by an earlier one would be dead documentation.
	g := NewWithT(t)
	samples := map[string]classifyInput{
		"429 status or code":           {Status: 429},
		"rate-limit wording":           {Status: 200, Message: "too many requests"},
		"401 status or code":           {Status: 401},
		"authentication wording":       {Status: 200, Message: "unauthorized"},
		"non-JSON 404 (missing route)": {Status: 404},
		"not-found wording":            {Status: 200, Message: "not found", JSON: true},
		"404 status or code":           {Status: 404, JSON: true},
		"non-JSON 5xx (gateway page)":  {Status: 502},
		"transient wording":            {Status: 200, Message: "try again", JSON: true},
		"quota/validation wording":     {Status: 200, Message: "invalid", JSON: true},
		"4xx status or code":           {Status: 400, JSON: true},
		"5xx status or code":           {Status: 500, JSON: true},
	}
	g.Expect(samples).To(HaveLen(len(classificationRules)))
	for _, r := range classificationRules {
		in, ok := samples[r.name]
		g.Expect(ok).To(BeTrue(), r.name)
		for _, earlier := range classificationRules {
			if earlier.name == r.name {
				break
			}
			g.Expect(earlier.match(in)).To(BeFalse(), "%q is shadowed by %q", r.name, earlier.name)
		}
		g.Expect(r.match(in)).To(BeTrue(), r.name)
	}
}

func TestErrorHelpers(t *testing.T) {
	g := NewWithT(t)
	rl := &Error{Operation: "ListVMs", HTTPStatus: 429, Class: ClassRateLimited, RetryAfter: 3 * time.Second, Message: "Too many requests"}
	wrapped := fmt.Errorf("reconciling: %w", rl)
	d, ok := IsRateLimited(wrapped)
	g.Expect(ok).To(BeTrue())
	g.Expect(d).To(Equal(3 * time.Second))
	g.Expect(RetryAfter(wrapped)).To(Equal(3 * time.Second))
	g.Expect(IsTransient(wrapped)).To(BeFalse())
	g.Expect(rl.Error()).To(Equal("vpsie ListVMs: HTTP 429: Too many requests (RateLimited, retry after 3s)"))

	_, ok = IsRateLimited(errors.New("plain"))
	g.Expect(ok).To(BeFalse())
	g.Expect(RetryAfter(errors.New("plain"))).To(BeZero())
	g.Expect(ClassOf(nil)).To(BeEmpty())
	g.Expect(ClassOf(errors.New("plain"))).To(BeEmpty())
	g.Expect(ClassOf(context.Canceled)).To(Equal(ClassTransient))
	g.Expect(IsNotFound(&Error{Class: ClassNotFound})).To(BeTrue())
	g.Expect(IsTerminal(&Error{Class: ClassNotFound})).To(BeFalse())

	withCause := &Error{Operation: "GetVM", Code: 500, HTTPStatus: 200, Message: "boom", Class: ClassTransient, Err: context.Canceled}
	g.Expect(withCause.Error()).To(Equal("vpsie GetVM: HTTP 200: code 500: boom: context canceled (Transient)"))
	g.Expect(errors.Is(withCause, context.Canceled)).To(BeTrue())
	g.Expect((&Error{Class: ClassTransient, Err: context.Canceled}).Error()).To(Equal("vpsie: context canceled (Transient)"))
	g.Expect((&Error{Class: ClassTerminal}).Error()).To(Equal("vpsie: unknown error (Terminal)"))

	relabelled := withOperation("ListVMs", &Error{Operation: "Login", HTTPStatus: 401, Class: ClassUnauthorized, Message: "Invalid credentials"})
	g.Expect(relabelled.Operation).To(Equal("ListVMs"))
	g.Expect(relabelled.Class).To(Equal(ClassUnauthorized))
	g.Expect(relabelled.Error()).To(ContainSubstring("Invalid credentials"))
	g.Expect(withOperation("X", errors.New("odd")).Class).To(Equal(ClassTransient))
	same := &Error{Operation: "X", Class: ClassTerminal}
	g.Expect(withOperation("X", same)).To(BeIdenticalTo(same))
	g.Expect(asError(errors.New("odd")).Class).To(Equal(ClassTransient))
}

func TestParseRetryAfter(t *testing.T) {
	g := NewWithT(t)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	g.Expect(parseRetryAfter("", now)).To(BeZero())
	g.Expect(parseRetryAfter("5", now)).To(Equal(5 * time.Second))
	g.Expect(parseRetryAfter("0.5", now)).To(Equal(500 * time.Millisecond))
	g.Expect(parseRetryAfter("-3", now)).To(BeZero())
	g.Expect(parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now)).To(Equal(90 * time.Second))
	g.Expect(parseRetryAfter(now.Add(-time.Minute).Format(http.TimeFormat), now)).To(BeZero())
	g.Expect(parseRetryAfter("soon", now)).To(BeZero())
}
