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

// Package vpsie is the VPSie API client of cluster-api-provider-vpsie. It knows nothing of
// Kubernetes.
//
// VPSie publishes no API reference; the client follows what VPSie's own public code does
// (see docs/vpsie-api.md) and copes with every variant seen there:
//
//   - Authentication: a static token sent as "Vpsie-Auth", or a client id and secret exchanged
//     at POST /apps/v2/auth/from/api (JSON body first, form body as fallback, either answer
//     shape), renewed shortly before expiry and once after a 401. Logins are single-flight,
//     and a failed login backs off (shared by the Client's callers, which fail fast meanwhile).
//   - Envelope: {"error":false,"data":...,"total":N}; "error":true at any status, including
//     200, is an error; HTML gateway pages are transient; data:false on a single GET is
//     not-found. Decoding is tolerant (numbers as strings, nulls, {rows,count} lists). Paged
//     lists are complete or an error, never silently partial (lists.go).
//   - Transport: one rate limiter per account shared by all Clients (default 100/min),
//     exponential backoff with full jitter on 429, 5xx and network errors for idempotent calls
//     only — creates are never repeated, because they return no id — and Retry-After honoured.
//     The limiter adapts: a 429 without Retry-After halves the account's rate (recovering
//     gradually), one with Retry-After holds every caller of the account until then.
//   - Errors: every error is an *Error with a Class (Transient, RateLimited, Terminal,
//     Unauthorized, NotFound); see classificationRules in errors.go for the heuristics.
//     NotSent tells a caller that VPSie certainly did not act on a call (safe to forget a create).
//   - Observability: Prometheus metrics (RegisterMetrics) and logr debug logs that never
//     contain tokens, secrets, passwords, user data or request bodies.
package vpsie
