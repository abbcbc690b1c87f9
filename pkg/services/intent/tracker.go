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

// Package intent is the provider's one create-or-adopt mechanism, used for servers, load balancers and VPCs
// alike. VPSie answers a create with no identifier and shows the new resource only later (first in a pending
// queue, then in its list), and an answer can be lost after the work was done. So a resource has a
// deterministic name, and:
//
//   - before a create, the intent (name, time) is written on the object and the API server's confirmation
//     awaited: after a crash or a restart the object says a create may have been made;
//   - every decision rests on a lookup of the name — the pending queue first, then the complete list — and a
//     resource found is adopted;
//   - a create whose outcome is unknown (network error, 5xx, gateway page, a crash) is never sent again until
//     lookups that started at least Grace after the intent show nothing — or, for a create VPSie answered with
//     a gateway page or a 5xx, until lookups have shown nothing for longer than this process has ever seen a
//     resource it created stay hidden (see visibility.go);
//   - a create VPSie accepted is never sent again;
//   - a call that was certainly not processed (429, the client's own limiter, a validation refusal) is known
//     not to have created anything: the intent is dropped at once;
//   - a refusal is remembered, with a growing backoff, so the same request is not re-sent at every poll;
//   - deletion honours the intent: an object is only let go once nothing of its name can still appear.
//
// A Tracker keeps, next to what the objects record, this process's own copy of every intent: the manager reads
// objects from a cache that may not show the intent it just wrote.
package intent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// Defaults of a Tracker.
const (
	// DefaultGrace is how long after a create with an unknown outcome VPSie must show no resource of the name
	// before it may be created again. It must exceed how long VPSie may take to show a new resource at all.
	DefaultGrace = 2 * time.Minute
	// DefaultAcceptedPatience is how long a deletion waits for a resource whose create VPSie accepted but never
	// showed. After it the object is let go (VPSie evidently dropped the create); a resource that appears even
	// later carries the ownership tags, by which a planned orphan sweep is to find it.
	DefaultAcceptedPatience = 30 * time.Minute
	// DefaultRefusalBackoff and DefaultMaxRefusalBackoff bound how long a refused request is not re-sent: the
	// backoff doubles with each refusal of the same request.
	DefaultRefusalBackoff    = 30 * time.Second
	DefaultMaxRefusalBackoff = 10 * time.Minute
)

// Sight is what a lookup found of a name.
type Sight int

const (
	// Absent: neither queued nor listed.
	Absent Sight = iota
	// Queued: in VPSie's pending-creation queue.
	Queued
	// Listed: in VPSie's list (the lookup keeps what it found for its caller).
	Listed
)

// Observation is the result of a lookup.
type Observation struct {
	Sight Sight
	// Since is when the lookup's first read started (the pending queue); zero means when Lookup was called, by
	// the Tracker's clock. Reads of a shared snapshot report the snapshot's time. Absence counts as proof only
	// for reads that started late enough.
	Since time.Time
}

// Lookup looks the resource's name up: the pending queue first, then the complete list. fresh asks for reads
// that start now; otherwise a recent shared snapshot may serve.
type Lookup func(ctx context.Context, fresh bool) (Observation, error)

// Request is one resource's create-or-adopt.
type Request struct {
	// Kind names the resource in messages: "server", "load balancer", "VPC".
	Kind string
	// Account identifies the VPSie account (scope.Account.Key).
	Account string
	// Name is the resource's deterministic name.
	Name string
	// Fingerprint identifies the request's content: a refusal is remembered for this content only, so a
	// corrected spec is tried at once.
	Fingerprint string
	// Intent is where the object records the intent (a field of its status).
	Intent **infrav1.CreateIntent
	// ObjectCreated is when the object came to be (its creationTimestamp). Every create made for it since was
	// preceded by its intent, so while it records none, nothing of the name was made for it, and a lookup that
	// started after it shows what there is to adopt as well as one that starts now: the first create of a new
	// object may rest on a shared snapshot instead of a list of its own (one per create, in a scale-up). Zero
	// makes every create wait for a lookup that starts at the create.
	ObjectCreated time.Time
	// Persist writes the object now and returns once the API server confirmed it.
	Persist func(ctx context.Context) error
	// Lookup looks the name up.
	Lookup Lookup
	// Prepare, when set, builds what Create sends (e.g. user data). It runs before the intent is written; an
	// error stops the create with nothing recorded.
	Prepare func(ctx context.Context) error
	// Create sends the create call.
	Create func(ctx context.Context) error
}

// Phase is where a resource's creation stands.
type Phase string

const (
	// Found: the resource is listed; the caller adopts what its lookup found. The intent is cleared.
	Found Phase = "Found"
	// InQueue: VPSie queues the resource's creation.
	InQueue Phase = "Queued"
	// Accepted: VPSie accepted a create; the resource is not shown yet. It is never created again.
	Accepted Phase = "Accepted"
	// Uncertain: a create may have been made; the provider looks for it until the grace period ends.
	Uncertain Phase = "Uncertain"
	// Created: the create this call sent was accepted.
	Created Phase = "Created"
	// Gone: (deletion) nothing of the name exists or can still appear. The intent is cleared.
	Gone Phase = "Gone"
)

// Outcome is what Ensure or Settle found.
type Outcome struct {
	Phase Phase
	// Since is when the intent was recorded (Accepted, Uncertain, Created; InQueue when an intent exists).
	Since time.Time
	// Err is, for Uncertain, the failure of the create this call sent.
	Err error
}

// Tracker runs the mechanism. One Tracker serves a whole controller (all objects, all accounts); the zero
// value is ready to use with the defaults. It is safe for concurrent use.
type Tracker struct {
	// Grace; DefaultGrace when zero.
	Grace time.Duration
	// AcceptedPatience; DefaultAcceptedPatience when zero.
	AcceptedPatience time.Duration
	// RefusalBackoff and MaxRefusalBackoff; the defaults when zero.
	RefusalBackoff, MaxRefusalBackoff time.Duration
	// MinProofWindow is the shortest absence that proves a gateway-answered create made nothing;
	// DefaultMinProofWindow when zero. A value of Grace or more turns the learned visibility off.
	MinProofWindow time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu       sync.Mutex
	intents  map[string]infrav1.CreateIntent
	refusals map[string]refusal
	creates  map[string]*sentCreate     // creates this process sent whose resource is not listed yet
	hidden   map[string][]time.Duration // per account and kind, the latest hidden stretches measured
}

type refusal struct {
	fingerprint string
	err         error
	count       int
	until       time.Time
}

func key(r *Request) string { return r.Account + "\x00" + r.Kind + "\x00" + r.Name }

func (t *Tracker) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Tracker) grace() time.Duration { return services.OrDefault(t.Grace, DefaultGrace) }

// Ensure looks the resource up and, when nothing of it exists or may exist, creates it. Errors are lookup and
// persist failures (nothing was sent) and refusals of the create (nothing was made; the intent is dropped).
func (t *Tracker) Ensure(ctx context.Context, r Request) (Outcome, error) {
	start := t.now()
	obs, err := t.lookup(ctx, &r, false)
	if err != nil {
		return Outcome{}, err
	}
	if out, seen := t.seen(&r, obs); seen {
		return out, nil
	}
	cur := t.current(&r)
	threshold := start
	if !r.ObjectCreated.IsZero() && r.ObjectCreated.Before(start) {
		threshold = r.ObjectCreated
	}
	if cur != nil {
		if cur.IsAccepted() {
			return Outcome{Phase: Accepted, Since: cur.RequestedAt.Time}, nil
		}
		threshold = t.proofAfter(&r, cur.RequestedAt.Time)
		if start.Before(threshold) {
			return Outcome{Phase: Uncertain, Since: cur.RequestedAt.Time}, nil
		}
	} else if err := t.refused(&r, start); err != nil {
		return Outcome{}, err
	}
	// About to create: absence must be shown by reads that started late enough — now, or (the first create of
	// an object) after the object came to be — never by an older snapshot.
	if obs.Since.Before(threshold) {
		if obs, err = t.lookup(ctx, &r, true); err != nil {
			return Outcome{}, err
		}
		if out, seen := t.seen(&r, obs); seen {
			return out, nil
		}
		// The fresh read may have widened the spacing of the lookups, and with it the window to cover.
		if cur != nil && obs.Since.Before(t.proofAfter(&r, cur.RequestedAt.Time)) {
			return Outcome{Phase: Uncertain, Since: cur.RequestedAt.Time}, nil
		}
	}
	return t.create(ctx, &r)
}

func (t *Tracker) lookup(ctx context.Context, r *Request, fresh bool) (Observation, error) {
	called := t.now()
	obs, err := r.Lookup(ctx, fresh)
	if obs.Since.IsZero() {
		obs.Since = called
	}
	if err == nil {
		t.observed(r, obs)
	}
	return obs, err
}

// seen handles a lookup that found the resource.
func (t *Tracker) seen(r *Request, obs Observation) (Outcome, bool) {
	switch obs.Sight {
	case Listed:
		t.Forget(r)
		return Outcome{Phase: Found}, true
	case Queued:
		out := Outcome{Phase: InQueue}
		if cur := t.current(r); cur != nil {
			out.Since = cur.RequestedAt.Time
		}
		return out, true
	}
	return Outcome{}, false
}

func (t *Tracker) create(ctx context.Context, r *Request) (Outcome, error) {
	if r.Prepare != nil {
		if err := r.Prepare(ctx); err != nil {
			return Outcome{}, err
		}
	}
	now := t.now()
	in := &infrav1.CreateIntent{Name: r.Name, RequestedAt: metav1.NewTime(now)}
	*r.Intent = in
	t.remember(r, *in)
	if err := r.Persist(ctx); err != nil {
		// Nothing was sent. Whether the write took effect is unknown: a persisted intent only costs a wait.
		t.Forget(r)
		return Outcome{}, fmt.Errorf("recording the intent to create %s %s before creating it: %w", r.Kind, r.Name, err)
	}
	err := r.Create(ctx)
	if !NothingCreated(err) {
		t.sent(r, now, t.now(), err)
	}
	switch {
	case err == nil:
		in.Accepted = ptr.To(true)
		t.remember(r, *in)
		t.clearRefusal(r)
		return Outcome{Phase: Created, Since: now}, nil
	case NothingCreated(err):
		t.Forget(r)
		if vpsie.IsTerminal(err) {
			err = t.refuse(r, now, err)
		}
		return Outcome{}, fmt.Errorf("creating %s %s: %w", r.Kind, r.Name, err)
	default:
		return Outcome{Phase: Uncertain, Since: now, Err: err}, nil
	}
}

// NothingCreated tells whether a failed create certainly made nothing: VPSie refused it before acting (429,
// refused credentials, a validation refusal) or the client never sent it (its own rate limiter, a request it
// would not build). Every other failure — network errors, timeouts, 5xx answers, gateway pages — may hide a
// create that happened. A terminal refusal counts as nothing created even when VPSie sends it with HTTP 200 or
// 500 (its quota messages arrive as "code 500"): treating it as uncertain would block the resource for the
// grace period on every refusal, and a quota or validation refusal that still created a server would be a
// VPSie bug the create grace could not fix either.
func NothingCreated(err error) bool {
	if err == nil {
		return false
	}
	if vpsie.NotSent(err) {
		return true
	}
	switch vpsie.ClassOf(err) {
	case vpsie.ClassRateLimited, vpsie.ClassTerminal, vpsie.ClassUnauthorized:
		return true
	}
	return false
}

// Settle is deletion's view of the mechanism: whether the object may be let go. Found means the lookup listed
// resources of the name (the caller deletes them); InQueue, Accepted and Uncertain mean one may still appear
// (wait); Gone means nothing of the name exists or can appear any more. The lookup may read a shared snapshot:
// every deleting object of an account then waits on the same list, not on one of its own. That is safe because
// absence counts against an intent only for reads that started late enough (Observation.Since), and without an
// intent nothing of the name can appear.
func (t *Tracker) Settle(ctx context.Context, r Request) (Outcome, error) {
	obs, err := t.lookup(ctx, &r, false)
	if err != nil {
		return Outcome{}, err
	}
	if out, seen := t.seen(&r, obs); seen {
		return out, nil // Found clears the intent: what the create made is listed, and the caller deletes it
	}
	cur := t.current(&r)
	switch {
	case cur == nil:
	case cur.IsAccepted() && obs.Since.Before(cur.RequestedAt.Add(services.OrDefault(t.AcceptedPatience, DefaultAcceptedPatience))):
		return Outcome{Phase: Accepted, Since: cur.RequestedAt.Time}, nil
	case !cur.IsAccepted() && obs.Since.Before(t.proofAfter(&r, cur.RequestedAt.Time)):
		return Outcome{Phase: Uncertain, Since: cur.RequestedAt.Time}, nil
	}
	t.Forget(&r)
	return Outcome{Phase: Gone}, nil
}

// Settled is Settle as a deletion that lists nothing of the name reads it.
type Settled struct {
	// Done: nothing of the name exists or can still appear; the object may be let go.
	Done bool
	// Waiting: a create may still surface; the caller says so in its condition.
	Waiting bool
	// RequeueAfter is when to look again when not Done.
	RequeueAfter time.Duration
}

// SettleDeletion runs Settle for a deleting object that listed nothing of the name: a resource listed now is
// deleted at the next pass (after deletePoll); one that may still surface is waited for (poll).
func (t *Tracker) SettleDeletion(ctx context.Context, r Request, poll, deletePoll time.Duration) (Settled, error) {
	out, err := t.Settle(ctx, r)
	switch {
	case err != nil:
		return Settled{}, err
	case out.Phase == Found:
		return Settled{RequeueAfter: deletePoll}, nil
	case out.Phase != Gone:
		return Settled{Waiting: true, RequeueAfter: poll}, nil
	}
	return Settled{Done: true}, nil
}

// Forget clears the intent, on the object and in memory: the resource was found, or is gone.
func (t *Tracker) Forget(r *Request) {
	if r.Intent != nil {
		*r.Intent = nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.intents, key(r))
	delete(t.creates, key(r))
}

// current is the intent in force: the object's, or this process's own when the object (read from a cache)
// does not show it yet or shows an older one.
func (t *Tracker) current(r *Request) *infrav1.CreateIntent {
	t.mu.Lock()
	mem, ok := t.intents[key(r)]
	t.mu.Unlock()
	var obj *infrav1.CreateIntent
	if r.Intent != nil && *r.Intent != nil && (*r.Intent).Name == r.Name {
		obj = *r.Intent
	}
	switch {
	case !ok:
		return obj
	case obj == nil || mem.RequestedAt.After(obj.RequestedAt.Time) ||
		(mem.RequestedAt.Equal(&obj.RequestedAt) && mem.IsAccepted() && !obj.IsAccepted()):
		if r.Intent != nil {
			*r.Intent = mem.DeepCopy()
		}
		return mem.DeepCopy()
	}
	return obj
}

func (t *Tracker) remember(r *Request, in infrav1.CreateIntent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.intents == nil {
		t.intents = map[string]infrav1.CreateIntent{}
	}
	t.intents[key(r)] = *in.DeepCopy()
}

// refused returns the remembered refusal of this very request while its backoff lasts.
func (t *Tracker) refused(r *Request, now time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ref, ok := t.refusals[key(r)]
	if !ok || ref.fingerprint != r.Fingerprint || !now.Before(ref.until) {
		return nil
	}
	return &RefusedError{Kind: r.Kind, Name: r.Name, Until: ref.until, Err: ref.err}
}

func (t *Tracker) refuse(r *Request, now time.Time, err error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refusals == nil {
		t.refusals = map[string]refusal{}
	}
	ref := t.refusals[key(r)]
	if ref.fingerprint != r.Fingerprint {
		ref = refusal{fingerprint: r.Fingerprint}
	}
	backoff := services.OrDefault(t.RefusalBackoff, DefaultRefusalBackoff) << min(ref.count, 16)
	if maxBackoff := services.OrDefault(t.MaxRefusalBackoff, DefaultMaxRefusalBackoff); backoff > maxBackoff || backoff <= 0 {
		backoff = maxBackoff
	}
	ref.count++
	ref.err = err
	ref.until = now.Add(backoff)
	t.refusals[key(r)] = ref
	return err
}

func (t *Tracker) clearRefusal(r *Request) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.refusals, key(r))
}

// RefusedError is returned instead of re-sending a request VPSie refused moments ago. It unwraps to VPSie's
// refusal, so it is classified (and reported) as that refusal was.
type RefusedError struct {
	Kind, Name string
	Until      time.Time
	Err        error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("VPSie refused to create %s %s: %v; the same request is not sent again before %s",
		e.Kind, e.Name, e.Err, e.Until.UTC().Format(time.RFC3339))
}

func (e *RefusedError) Unwrap() error { return e.Err }

// IsRefused tells whether err is a remembered refusal.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}
