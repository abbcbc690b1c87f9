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
	"errors"
	"slices"
	"time"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// Learned visibility: when a create was answered with an error page (an HTML 502, any 5xx) the grace window
// is often far longer than needed. VPSie's pending queue and its complete list show a new resource within some
// time, and this process measures that time on the creates it sent itself. Absence then proves that a
// gateway-answered create made nothing once lookups cover a window that no resource VPSie did create has ever
// stayed hidden for.
//
// The argument, for one resource: after its create, it is hidden for a while (I0, before it is queued), then
// queued (Q, visible), maybe hidden again (G, the hand-over from the queue to the list) and then listed for
// good. For every resource this process created, the time between two consecutive sightings (or between the
// create's answer and the first sighting) bounds every hidden stretch in between; B is the longest such time
// seen. A gateway-answered create that did make something is then hidden for at most I0 + Q + G before it is
// listed, with I0, G ≤ B. If lookups made no more than S apart all show nothing, either one of them fell in Q
// (and would have seen the resource), or Q < S and the resource is listed by answer + 2B + S. So absence in
// every lookup up to answer + max(MinProofWindow, 2B + S) proves nothing was made.
//
// What it assumes, and where it does not apply:
//   - a gateway page or a 5xx answer means VPSie's handler is done with the request, whatever it did; a call
//     that got no answer at all (a lost answer, a timeout) may still be at work, so it keeps the full grace;
//   - creates the process did not send, or sent before a restart, keep the full grace (nothing measured them);
//   - B is learned per account and kind, from at least minVisibilitySamples resources; until then, and while a
//     resource VPSie accepted has been hidden for longer than the grace allows, the full grace applies;
//   - a resource VPSie accepted but still hides counts with the time it has been hidden so far, so a slow
//     account raises B before its resources are listed.
const (
	// DefaultMinProofWindow is the shortest window of absence accepted as proof after a gateway-answered create.
	DefaultMinProofWindow = 15 * time.Second
	// visibilitySamples is how many of the latest listed resources' measurements are kept per account and kind.
	visibilitySamples = 32
	// minVisibilitySamples is how many listed resources it takes before absence may prove anything early.
	minVisibilitySamples = 3
)

// sentCreate is what the Tracker remembers of a create it sent whose resource is not listed yet.
type sentCreate struct {
	group       string        // account and kind: where the measurements go
	requestedAt time.Time     // the intent's time, to tell this create from a later one of the same name
	accepted    bool          // VPSie accepted the create
	answered    time.Time     // when the create's answer (or failure) came back
	gateway     bool          // the failure was an error answer of VPSie's servers (gateway page, 5xx)
	lastSeen    time.Time     // the latest lookup that showed the resource; answered until one did
	lastLookup  time.Time     // the latest lookup, by when it started
	maxSpacing  time.Duration // the longest time between two lookups of it
	maxHidden   time.Duration // the longest time between two sightings of it so far
}

// sent records a create whose outcome is not "nothing created".
func (t *Tracker) sent(r *Request, requestedAt, answered time.Time, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.creates == nil {
		t.creates = map[string]*sentCreate{}
	}
	t.creates[key(r)] = &sentCreate{
		group: group(r), requestedAt: requestedAt, accepted: err == nil, answered: answered, gateway: gatewayAnswer(err),
		lastSeen: answered, lastLookup: answered,
	}
}

// SentHere tells whether this process sent a create of the name whose resource it has not seen listed yet
// (accepted, or with its outcome unknown). What then appears under the name is, but for a coincidence the
// caller rules out (one resource of the name, not two), what that create made, carrying what it sent.
func (t *Tracker) SentHere(account, kind, name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.creates[key(&Request{Account: account, Kind: kind, Name: name})]
	return ok
}

// gatewayAnswer tells whether a failed create was answered by VPSie's servers with an error status (an HTML
// gateway page or a 5xx), as opposed to no answer at all.
func gatewayAnswer(err error) bool {
	var e *vpsie.Error
	return errors.As(err, &e) && e.HTTPStatus >= 500 && e.Err == nil
}

func group(r *Request) string { return r.Account + "\x00" + r.Kind }

// observed feeds a lookup's result into the measurements.
func (t *Tracker) observed(r *Request, obs Observation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sc, ok := t.creates[key(r)]
	if !ok || !obs.Since.After(sc.lastLookup) {
		return // nothing sent by this process, or an older snapshot than one already seen
	}
	sc.maxSpacing = max(sc.maxSpacing, obs.Since.Sub(sc.lastLookup))
	sc.lastLookup = obs.Since
	if obs.Sight == Absent {
		return
	}
	sc.maxHidden = max(sc.maxHidden, obs.Since.Sub(sc.lastSeen))
	sc.lastSeen = obs.Since
	if obs.Sight == Listed {
		t.measure(sc.group, sc.maxHidden)
		delete(t.creates, key(r))
	}
}

func (t *Tracker) measure(group string, hidden time.Duration) {
	if t.hidden == nil {
		t.hidden = map[string][]time.Duration{}
	}
	t.hidden[group] = append(t.hidden[group], hidden)
	if s := t.hidden[group]; len(s) > visibilitySamples {
		t.hidden[group] = slices.Clone(s[len(s)-visibilitySamples:])
	}
}

// proofAfter is when lookups showing nothing prove that the create recorded in cur made nothing.
func (t *Tracker) proofAfter(r *Request, cur time.Time) time.Time {
	full := cur.Add(t.grace())
	t.mu.Lock()
	defer t.mu.Unlock()
	sc, ok := t.creates[key(r)]
	if !ok || sc.accepted || !sc.gateway || !sc.requestedAt.Equal(cur) {
		return full
	}
	bound, ok := t.hiddenBound(sc.group, t.now())
	if !ok {
		return full
	}
	early := sc.answered.Add(max(services.OrDefault(t.MinProofWindow, DefaultMinProofWindow), 2*bound+sc.maxSpacing))
	if early.Before(full) {
		return early
	}
	return full
}

// hiddenBound is B for a group: the longest hidden stretch measured of the latest listed resources and of those
// not listed yet, and how long any resource VPSie accepted has been hidden so far. ok is false while too few
// resources were listed.
func (t *Tracker) hiddenBound(group string, now time.Time) (time.Duration, bool) {
	s := t.hidden[group]
	if len(s) < minVisibilitySamples {
		return 0, false
	}
	bound := time.Duration(0)
	for _, d := range s {
		bound = max(bound, d)
	}
	for _, sc := range t.creates {
		switch {
		case sc.group != group:
		case sc.accepted:
			bound = max(bound, sc.maxHidden, now.Sub(sc.lastSeen))
		default:
			bound = max(bound, sc.maxHidden)
		}
	}
	return bound, true
}
