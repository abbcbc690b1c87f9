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

// Package services holds what the per-resource service packages (servers, loadbalancers, vpcs) share: how a
// VPSie error becomes a condition and a requeue.
package services

import (
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/cloudinit"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// TerminalRequeue is how long to wait before looking again at an object whose request VPSie refused as
// invalid: long enough not to hammer the API, short enough to notice a fixed account (quota raised).
const TerminalRequeue = 5 * time.Minute

// Outcome is what a reconcile should do after a cloud error.
type Outcome struct {
	// RequeueAfter, when set, requeues after that long without counting as a failure.
	RequeueAfter time.Duration
	// Err, when set, is returned to controller-runtime, which retries with exponential backoff.
	Err error
	// Class is the error's class, for metrics.
	Class vpsie.ErrorClass
}

// HandleError sets condition conditionType on obj to False with a reason matching the error's class and a
// message a human can act on, and says how to requeue: rate limits wait as told, terminal and credential
// errors wait long (no hot loop), transient errors back off.
func HandleError(obj conditions.Setter, conditionType, action string, err error) Outcome {
	class := vpsie.ClassOf(err)
	reason, out := infrav1.TransientErrorReason, Outcome{Err: err, Class: class}
	switch {
	case class == vpsie.ClassRateLimited:
		wait, _ := vpsie.IsRateLimited(err)
		if wait <= 0 {
			wait = 10 * time.Second
		}
		reason, out = infrav1.RateLimitedReason, Outcome{RequeueAfter: wait, Class: class}
	case class == vpsie.ClassTerminal:
		reason, out = infrav1.InvalidSpecReason, Outcome{RequeueAfter: TerminalRequeue, Class: class}
	case class == vpsie.ClassUnauthorized:
		reason, out = infrav1.CredentialsInvalidReason, Outcome{RequeueAfter: TerminalRequeue, Class: class}
	case errors.Is(err, cloudinit.ErrTooLarge):
		reason, out = infrav1.UserDataTooLargeReason, Outcome{RequeueAfter: TerminalRequeue, Class: vpsie.ClassTerminal}
	case errors.Is(err, ErrTerminal):
		reason, out = infrav1.InvalidSpecReason, Outcome{RequeueAfter: TerminalRequeue, Class: vpsie.ClassTerminal}
	}
	conditions.Set(obj, metav1.Condition{
		Type:    conditionType,
		Status:  metav1.ConditionFalse,
		Reason:  reason,
		Message: action + ": " + stableMessage(err),
	})
	return out
}

// stableMessage is err's text without the waits VPSie errors carry ("retry after 1.234567s"): they differ at
// every call, and a condition message that changes at every reconcile rewrites the object each time, which
// triggers the next reconcile. The wait is in the requeue, not in the message.
func stableMessage(err error) string {
	msg := err.Error()
	for cur := err; cur != nil; {
		var e *vpsie.Error
		if !errors.As(cur, &e) {
			break
		}
		if e.RetryAfter > 0 {
			msg = strings.ReplaceAll(msg, fmt.Sprintf(", retry after %s", e.RetryAfter), "")
		}
		cur = e.Err
	}
	return msg
}

// ErrTerminal marks errors found by the provider itself (not VPSie) that retrying cannot fix, such as an SSH
// key identifier that does not exist in the account.
var ErrTerminal = errors.New("invalid request")
