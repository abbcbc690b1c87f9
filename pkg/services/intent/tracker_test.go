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

package intent

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// answer is how the fake cloud answers a create.
type answer int

const (
	accept           answer = iota // created, answered
	lostAfterWork                  // created, answer lost (network error)
	failedNoWork                   // 502 gateway page, nothing created
	rateLimited                    // 429: nothing created
	refusedInvalid                 // validation refusal: nothing created
	gatewayAfterWork               // created, then answered with a 502 gateway page
	lostNoWork                     // no answer (connection reset), nothing created
)

// crash is where the controller process dies.
type crash int

const (
	noCrash           crash = iota
	afterPersist            // the intent is stored, the create never sent
	afterCreate             // the create was sent, the reconcile's final status write lost
	staleCacheOnly          // no crash, but the next reads come from a cache without the stored intent
	crashDuringLookup       // restart with the intent stored, while VPSie still hides the resource
)

// world is a fake VPSie account plus the API server's copy of one object. A resource created at t shows up
// Queued during [t, t+queued), then nowhere during [t+queued, t+queued+gap) (the pending-to-list gap, list lag),
// then Listed.
type world struct {
	now         time.Time
	queued, gap time.Duration
	answers     []answer // the create calls' answers, in order; the last repeats
	calls       int      // create calls received
	made        []time.Time
	stored      *infrav1.CreateIntent // the API server's copy of the object's intent
	persistErr  error
	preListed   int // resources of the name listed before the test starts (duplicates)
}

func (w *world) lookup(context.Context, bool) (Observation, error) {
	sight := Absent
	if w.preListed > 0 {
		sight = Listed
	}
	for _, at := range w.made {
		switch age := w.now.Sub(at); {
		case age < w.queued && sight == Absent:
			sight = Queued
		case age >= w.queued+w.gap:
			sight = Listed
		}
	}
	return Observation{Sight: sight, Since: w.now}, nil
}

func (w *world) create(context.Context) error {
	a := w.answers[min(w.calls, len(w.answers)-1)]
	w.calls++
	switch a {
	case accept:
		w.made = append(w.made, w.now)
		return nil
	case lostAfterWork:
		w.made = append(w.made, w.now)
		return &vpsie.Error{Operation: "CreateVM", Class: vpsie.ClassTransient, Message: "connection reset"}
	case failedNoWork:
		return &vpsie.Error{Operation: "CreateVM", HTTPStatus: http.StatusBadGateway, Class: vpsie.ClassTransient, Message: "gateway"}
	case gatewayAfterWork:
		w.made = append(w.made, w.now)
		return &vpsie.Error{Operation: "CreateVM", HTTPStatus: http.StatusBadGateway, Class: vpsie.ClassTransient, Message: "gateway"}
	case lostNoWork:
		return &vpsie.Error{Operation: "CreateVM", Class: vpsie.ClassTransient, Message: "connection reset"}
	case rateLimited:
		return &vpsie.Error{Operation: "CreateVM", HTTPStatus: http.StatusTooManyRequests, Class: vpsie.ClassRateLimited}
	default:
		return &vpsie.Error{Operation: "CreateVM", HTTPStatus: http.StatusBadRequest, Class: vpsie.ClassTerminal, Message: "invalid plan"}
	}
}

// controller is one controller process: a Tracker and the object as it last read it.
type controller struct {
	tracker *Tracker
	intent  *infrav1.CreateIntent
}

func newController(w *world) *controller {
	return &controller{tracker: &Tracker{Now: func() time.Time { return w.now }}, intent: w.stored.DeepCopy()}
}

func (c *controller) request(w *world, persist func(context.Context) error) Request {
	return Request{
		Kind: "server", Account: "acct", Name: "worker-1", Fingerprint: "plan-a", Intent: &c.intent,
		Persist: persist, Lookup: w.lookup, Create: w.create,
	}
}

// run drives reconciles every 10 s for the given time, with a crash at the first create if asked, and returns
// the last outcome.
func run(g Gomega, w *world, cr crash, d time.Duration) (Outcome, error) {
	c := newController(w)
	crashed := false
	var out Outcome
	var err error
	for end := w.now.Add(d); !w.now.After(end); w.now = w.now.Add(10 * time.Second) {
		crashNow := false
		persist := func(context.Context) error {
			if w.persistErr != nil {
				return w.persistErr
			}
			w.stored = c.intent.DeepCopy()
			if cr == afterPersist && !crashed {
				crashNow = true
				return errors.New("process killed") // the create is never sent
			}
			return nil
		}
		callsBefore := w.calls
		out, err = c.tracker.Ensure(context.Background(), c.request(w, persist))
		if crashNow || (cr == afterCreate && !crashed && w.calls > callsBefore) {
			crashed = true
			c = newController(w) // the final status write is lost: the store keeps the unaccepted intent
			continue
		}
		if cr == crashDuringLookup && !crashed && w.calls > 0 {
			crashed = true
			w.stored = c.intent.DeepCopy()
			c = newController(w)
			continue
		}
		if cr == staleCacheOnly {
			// The status write happens, but the next reconcile reads an object from before it.
			w.stored = c.intent.DeepCopy()
			c.intent = nil
			continue
		}
		w.stored = c.intent.DeepCopy()
		g.Expect(len(w.made)).To(BeNumerically("<=", 1), "a second resource was created at %s", w.now)
	}
	return out, err
}

func TestEnsure(t *testing.T) {
	grace := DefaultGrace
	cases := []struct {
		name        string
		answers     []answer
		queued, gap time.Duration
		crash       crash
		wantCalls   int
		wantPhase   Phase
		wantErr     bool
	}{
		{name: "accepted, queued then listed", answers: []answer{accept}, queued: 30 * time.Second, wantCalls: 1, wantPhase: Found},
		{name: "accepted, hidden for longer than the grace", answers: []answer{accept}, gap: 3 * grace, wantCalls: 1, wantPhase: Found},
		{name: "accepted, crash before the status write, hidden a while", answers: []answer{accept}, gap: grace - 20*time.Second,
			crash: afterCreate, wantCalls: 1, wantPhase: Found},
		{name: "answer lost after the work, hidden a while", answers: []answer{lostAfterWork}, gap: grace - 20*time.Second,
			wantCalls: 1, wantPhase: Found},
		{name: "answer lost after the work, queued", answers: []answer{lostAfterWork}, queued: time.Minute, wantCalls: 1, wantPhase: Found},
		{name: "gateway page, nothing made: created again after the grace", answers: []answer{failedNoWork, accept},
			wantCalls: 2, wantPhase: Found},
		{name: "429: nothing made, created again at once", answers: []answer{rateLimited, accept}, wantCalls: 2, wantPhase: Found},
		{name: "crash after the intent, before the create", answers: []answer{accept}, crash: afterPersist, wantCalls: 1, wantPhase: Found},
		{name: "stale cache after an accepted create", answers: []answer{accept}, gap: grace + time.Minute, crash: staleCacheOnly,
			wantCalls: 1, wantPhase: Found},
		{name: "stale cache after a lost answer", answers: []answer{lostAfterWork}, gap: grace - 20*time.Second, crash: staleCacheOnly,
			wantCalls: 1, wantPhase: Found},
		{name: "restart while hidden after a lost answer", answers: []answer{lostAfterWork}, gap: grace - 20*time.Second,
			crash: crashDuringLookup, wantCalls: 1, wantPhase: Found},
		// Sent at 0, 30 s, 90 s, 210 s and 450 s: the backoff doubles from 30 s, instead of sixty calls.
		{name: "refused as invalid: not re-sent at every poll", answers: []answer{refusedInvalid}, wantCalls: 5, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			w := &world{now: time.Unix(1_000_000, 0), queued: tc.queued, gap: tc.gap, answers: tc.answers}
			// Ten minutes of reconciles every 10 s (sixty passes).
			horizon := 10 * time.Minute
			if tc.gap > 0 {
				horizon = tc.gap + 5*time.Minute
			}
			out, err := run(g, w, tc.crash, horizon)
			g.Expect(w.calls).To(Equal(tc.wantCalls), "create calls")
			g.Expect(len(w.made)).To(BeNumerically("<=", 1))
			if tc.wantErr {
				g.Expect(err).To(HaveOccurred())
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out.Phase).To(Equal(tc.wantPhase))
			g.Expect(w.stored).To(BeNil(), "a found resource clears the intent")
		})
	}
}

func TestEnsureDuplicatesAreFoundNotCreated(t *testing.T) {
	g := NewWithT(t)
	w := &world{now: time.Unix(1_000_000, 0), answers: []answer{accept}, preListed: 2}
	c := newController(w)
	out, err := c.tracker.Ensure(context.Background(), c.request(w, func(context.Context) error { return nil }))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.Phase).To(Equal(Found))
	g.Expect(w.calls).To(BeZero())
}

func TestEnsurePersistFailureSendsNothing(t *testing.T) {
	g := NewWithT(t)
	w := &world{now: time.Unix(1_000_000, 0), answers: []answer{accept}, persistErr: errors.New("conflict")}
	c := newController(w)
	_, err := c.tracker.Ensure(context.Background(), c.request(w, func(context.Context) error { return w.persistErr }))
	g.Expect(err).To(MatchError(ContainSubstring("recording the intent")))
	g.Expect(w.calls).To(BeZero())
	g.Expect(c.intent).To(BeNil())
}

func TestRefusalBackoffAndNewSpec(t *testing.T) {
	g := NewWithT(t)
	w := &world{now: time.Unix(1_000_000, 0), answers: []answer{refusedInvalid}}
	c := newController(w)
	req := c.request(w, func(context.Context) error { return nil })
	_, err := c.tracker.Ensure(context.Background(), req)
	g.Expect(vpsie.IsTerminal(err)).To(BeTrue(), "a refusal keeps VPSie's class: %v", err)
	g.Expect(c.intent).To(BeNil(), "a refused create made nothing")
	w.now = w.now.Add(10 * time.Second)
	_, err = c.tracker.Ensure(context.Background(), req)
	g.Expect(IsRefused(err)).To(BeTrue())
	g.Expect(vpsie.IsTerminal(err)).To(BeTrue())
	g.Expect(w.calls).To(Equal(1), "not re-sent during the backoff")

	req.Fingerprint = "plan-b" // the user fixed the spec
	w.answers = []answer{refusedInvalid, accept}
	out, err := c.tracker.Ensure(context.Background(), req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.Phase).To(Equal(Created))
	g.Expect(w.calls).To(Equal(2))
}

func TestSettle(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_000_000, 0)
	cases := []struct {
		name   string
		intent *infrav1.CreateIntent
		made   bool
		gap    time.Duration
		at     time.Duration // when Settle runs, after t0
		want   Phase
	}{
		{name: "no intent, nothing listed", at: 0, want: Gone},
		{name: "accepted, not shown yet", intent: accepted(t0), made: true, gap: time.Hour, at: 5 * time.Minute, want: Accepted},
		{name: "accepted, never shown: let go after the patience", intent: accepted(t0), at: DefaultAcceptedPatience + time.Second, want: Gone},
		{name: "uncertain within the grace", intent: uncertain(t0), at: time.Minute, want: Uncertain},
		{name: "uncertain, absent past the grace", intent: uncertain(t0), at: DefaultGrace, want: Gone},
		{name: "queued", intent: accepted(t0), made: true, gap: time.Hour, at: 0, want: InQueue},
		{name: "listed", intent: accepted(t0), made: true, at: time.Minute, want: Found},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			w := &world{now: t0.Add(tc.at), queued: time.Second, gap: tc.gap}
			if tc.made {
				w.made = []time.Time{t0}
			}
			w.stored = tc.intent
			c := newController(w)
			out, err := c.tracker.Settle(ctx, c.request(w, nil))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out.Phase).To(Equal(tc.want))
			if tc.want == Gone {
				g.Expect(c.intent).To(BeNil())
			}
		})
	}
}

func TestSettleSeesThisProcessIntentThroughAStaleCache(t *testing.T) {
	g := NewWithT(t)
	w := &world{now: time.Unix(1_000_000, 0), answers: []answer{accept}, gap: time.Hour}
	c := newController(w)
	_, err := c.tracker.Ensure(context.Background(), c.request(w, func(context.Context) error { return nil }))
	g.Expect(err).NotTo(HaveOccurred())
	c.intent = nil // a deletion read from a cache that never saw the intent
	out, err := c.tracker.Settle(context.Background(), c.request(w, nil))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.Phase).To(Equal(Accepted), "the in-memory intent keeps the object until the server shows")
}

func TestNothingCreated(t *testing.T) {
	g := NewWithT(t)
	g.Expect(NothingCreated(&vpsie.Error{Class: vpsie.ClassRateLimited})).To(BeTrue())
	g.Expect(NothingCreated(&vpsie.Error{Class: vpsie.ClassTerminal})).To(BeTrue())
	g.Expect(NothingCreated(&vpsie.Error{Class: vpsie.ClassUnauthorized})).To(BeTrue())
	g.Expect(NothingCreated(&vpsie.Error{Class: vpsie.ClassTransient, HTTPStatus: 502})).To(BeFalse())
	g.Expect(NothingCreated(&vpsie.Error{Class: vpsie.ClassTransient})).To(BeFalse())
	g.Expect(NothingCreated(errors.New("foreign"))).To(BeFalse())
	g.Expect(NothingCreated(nil)).To(BeFalse())
}

func accepted(t time.Time) *infrav1.CreateIntent {
	in := uncertain(t)
	tr := true
	in.Accepted = &tr
	return in
}

func uncertain(t time.Time) *infrav1.CreateIntent {
	return &infrav1.CreateIntent{Name: "worker-1", RequestedAt: metav1.NewTime(t)}
}

// The first create of an object may rest on a shared lookup that started after the object came to be:
// nothing of the name was made for it before its first intent. A lookup older than the object, or an object
// that does not say when it came to be, makes the Tracker look again before creating.
func TestFirstCreateRestsOnALookupSinceTheObjectExisted(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	snapshotAt := now.Add(-5 * time.Second)
	for _, tc := range []struct {
		name      string
		created   time.Time
		wantFresh int
	}{
		{name: "object older than the snapshot", created: now.Add(-time.Minute), wantFresh: 0},
		{name: "object newer than the snapshot", created: now.Add(-time.Second), wantFresh: 1},
		{name: "object's age unknown", wantFresh: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			fresh, creates := 0, 0
			var in *infrav1.CreateIntent
			tr := &Tracker{Now: func() time.Time { return now }}
			out, err := tr.Ensure(context.Background(), Request{
				Kind: "server", Account: "acct", Name: "worker-1", Intent: &in, ObjectCreated: tc.created,
				Persist: func(context.Context) error { return nil },
				Lookup: func(_ context.Context, f bool) (Observation, error) {
					if f {
						fresh++
						return Observation{Sight: Absent, Since: now}, nil
					}
					return Observation{Sight: Absent, Since: snapshotAt}, nil
				},
				Create: func(context.Context) error { creates++; return nil },
			})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out.Phase).To(Equal(Created))
			g.Expect(fresh).To(Equal(tc.wantFresh), "lookups of its own before the create")
			g.Expect(creates).To(Equal(1))
		})
	}
}

// SettleDeletion turns Settle's phases into what a deletion does: wait (the poll) while a create may surface,
// come back soon (the delete poll) when the resource is listed, let go when nothing can appear.
func TestSettleDeletion(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	tr := &Tracker{}
	var in *infrav1.CreateIntent
	sight := Absent
	r := Request{Kind: "VPC", Account: "a", Name: "n", Intent: &in,
		Lookup: func(context.Context, bool) (Observation, error) { return Observation{Sight: sight}, nil }}

	g.Expect(tr.SettleDeletion(ctx, r, time.Second, time.Minute)).To(Equal(Settled{Done: true}), "no intent, nothing listed")
	in = &infrav1.CreateIntent{Name: "n", RequestedAt: metav1.Now(), Accepted: ptr.To(true)}
	g.Expect(tr.SettleDeletion(ctx, r, time.Second, time.Minute)).To(Equal(Settled{Waiting: true, RequeueAfter: time.Second}),
		"an accepted create not shown yet")
	sight = Listed
	g.Expect(tr.SettleDeletion(ctx, r, time.Second, time.Minute)).To(Equal(Settled{RequeueAfter: time.Minute}), "listed now")
	g.Expect(in).To(BeNil(), "found: the intent is done")
}
