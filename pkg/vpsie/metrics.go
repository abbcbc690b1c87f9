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
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are package-level so that every Client (one per set of credentials) feeds the same
// series; they are updated whether or not they are registered, and RegisterMetrics exposes
// them on the registry the manager serves (controller-runtime's, passed in by main).
//
// Label values are bounded: "operation" is one of the client's method names (never a URL with
// identifiers), "code" an HTTP status or one of "error" (2xx answer carrying "error":true),
// "network" (no answer) and "canceled" (the caller's context ended).
var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "capvpsie_vpsie_api_requests_total",
		Help: "HTTP requests sent to the VPSie API, by operation and HTTP status (or error/network/canceled).",
	}, []string{"operation", "code"})

	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "capvpsie_vpsie_api_request_duration_seconds",
		Help:    "Latency of single HTTP requests to the VPSie API, by operation.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"operation"})

	retriesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "capvpsie_vpsie_api_retries_total",
		Help: "Requests repeated by the client, by operation and reason (rate_limited, server_error, network, unauthorized).",
	}, []string{"operation", "reason"})

	rateLimitWaitSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "capvpsie_vpsie_api_rate_limit_wait_seconds_total",
		Help: "Seconds spent waiting on the shared client-side limiter (source=limiter) or on Retry-After (source=retry_after).",
	}, []string{"source"})

	loginsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "capvpsie_vpsie_api_logins_total",
		Help: "Logins with client credentials, by result (success, rejected, error).",
	}, []string{"result"})

	errorsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "capvpsie_vpsie_api_errors_total",
		Help: "Calls that returned an error to the caller, by operation and error class (never NotFound: see capvpsie_vpsie_api_not_found_total).",
	}, []string{"operation", "class"})

	// A "not found" answer is how VPSie confirms a delete and how a lookup misses: counted apart, so that an
	// alert on API errors does not fire on every healthy scale-down.
	notFoundTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "capvpsie_vpsie_api_not_found_total",
		Help: "Calls answered that the object does not exist (a delete confirmed, a lookup that missed), by operation.",
	}, []string{"operation"})

	// The "account" label is the first 12 hex digits of SHA-256(base URL, credential identity):
	// it tells accounts apart without revealing a client id or token. One series per account.
	rateLimitRequestsPerMinute = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "capvpsie_vpsie_api_rate_limit_requests_per_minute",
		Help: "Effective request rate of the shared per-account limiter: the configured rate, lowered after 429 answers and recovering gradually.",
	}, []string{"account"})
)

// Collectors returns the client's metric collectors, for callers that register them their own way.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{requestsTotal, requestDuration, retriesTotal, rateLimitWaitSeconds, loginsTotal,
		errorsTotal, notFoundTotal, rateLimitRequestsPerMinute}
}

// RegisterMetrics registers the client's metrics on reg (the manager passes controller-runtime's
// metrics.Registry). Registering twice on the same registry is not an error.
func RegisterMetrics(reg prometheus.Registerer) error {
	var errs []error
	for _, c := range Collectors() {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if errors.As(err, &already) {
				continue
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
