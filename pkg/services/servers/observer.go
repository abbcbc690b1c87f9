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

package servers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// DefaultPollWindow is how long one VM list serves every machine of an account.
const DefaultPollWindow = 10 * time.Second

// Snapshot is an account's VM list and, when WithQueue, its pending-creation queue, taken together.
type Snapshot struct {
	VMs     []vpsie.VM
	Pending []vpsie.PendingVM
	// WithQueue tells whether the queue was read: machines that only watch their running servers need the list
	// alone, so while nothing is being created an account costs one request per window, not two.
	WithQueue bool
	Taken     time.Time
}

// ByIdentifier finds a VM by its identifier.
func (s *Snapshot) ByIdentifier(identifier string) (vpsie.VM, bool) {
	for _, vm := range s.VMs {
		if string(vm.Identifier) == identifier {
			return vm, true
		}
	}
	return vpsie.VM{}, false
}

// ByHostname finds the VMs and pending creations with a hostname. Deleted or terminated VMs are left out:
// they are history, not a server to adopt.
func (s *Snapshot) ByHostname(hostname string) ([]vpsie.VM, []vpsie.PendingVM) {
	var live []vpsie.VM
	for _, vm := range vpsie.FindVMsByHostname(s.VMs, hostname) {
		if !vm.IsGone() {
			live = append(live, vm)
		}
	}
	return live, vpsie.FindPendingVMsByHostname(s.Pending, hostname)
}

// Observer shares VM lists between machines: every machine of an account that waits for its server reads
// the same snapshot, refreshed at most once per poll window, instead of a GET per machine per poll.
type Observer struct {
	// Window is the longest a snapshot is reused; DefaultPollWindow when zero.
	Window time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// PerMachine is a comparison mode (--per-machine-polling), off in production: every machine whose server is
	// known reads it with a GET of its own at each poll — the design most providers use — instead of the shared
	// list. It exists so that the benchmark can measure what the shared list saves.
	PerMachine bool
	// ServerTags reads and keeps servers' tags; shared with the orphan sweep, which then sees the claims this
	// controller makes. One of its own when nil.
	ServerTags *services.ServerTags

	mu       sync.Mutex
	accounts map[string]*accountState
	// deletes are the servers this process sent a delete for, by account key and identifier, and when.
	deletes map[string]time.Time
}

// DeleteResend is how long after a delete VPSie accepted a server still listed is not deleted again: the
// object may be read from a cache that does not show it Deleting yet, and VPSie takes a while to delete.
const DeleteResend = 2 * time.Minute

// deleteSentRecently tells whether this process sent the server's delete less than DeleteResend ago.
func (o *Observer) deleteSentRecently(account *scope.Account, id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	at, ok := o.deletes[account.Key+"/"+id]
	return ok && o.now().Sub(at) < DeleteResend
}

// deleteSentBefore tells whether this process sent the server's delete, and VPSie accepted it, before taken.
func (o *Observer) deleteSentBefore(account *scope.Account, id string, taken time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	at, ok := o.deletes[account.Key+"/"+id]
	return ok && taken.After(at)
}

// deleteSent records that this process sent the server's delete; old records go at the same time.
func (o *Observer) deleteSent(account *scope.Account, id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	if o.deletes == nil {
		o.deletes = map[string]time.Time{}
	}
	for k, at := range o.deletes {
		if now.Sub(at) >= DeleteResend {
			delete(o.deletes, k)
		}
	}
	o.deletes[account.Key+"/"+id] = now
}

type accountState struct {
	// fetch serialises refreshes: concurrent callers wait for one list instead of each making their own.
	fetch sync.Mutex
	mu    sync.Mutex
	snap  *Snapshot
	// queueAsked is when a caller last needed the pending queue: while creates are under way (a caller needed
	// it in the last two windows), every refresh reads it, so that a machine watching its booting server and
	// one about to create do not each need a snapshot of their own within one window.
	queueAsked time.Time
}

var snapshotsFetched = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "capvpsie_server_snapshots_fetched_total",
	Help: "VM list snapshots fetched from VPSie by the batch observer, by whether a fresh list was forced.",
}, []string{"forced"})

// Collectors are the observer's metrics.
func Collectors() []prometheus.Collector { return []prometheus.Collector{snapshotsFetched} }

func (o *Observer) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Observer) window() time.Duration {
	if o.Window > 0 {
		return o.Window
	}
	return DefaultPollWindow
}

func (o *Observer) serverTags() *services.ServerTags {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ServerTags == nil {
		o.ServerTags = &services.ServerTags{}
	}
	return o.ServerTags
}

func (o *Observer) state(key string) *accountState {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.accounts == nil {
		o.accounts = map[string]*accountState{}
	}
	st, ok := o.accounts[key]
	if !ok {
		st = &accountState{}
		o.accounts[key] = st
	}
	return st
}

// Server returns a known server: as the shared list shows it, from a snapshot up to maxAge old (at least the
// poll window), nil when the list does not show it (the caller then confirms with a GET of its own); with
// PerMachine, as a GET of it reads it, with VPSie's not-found error when it does not exist.
func (o *Observer) Server(ctx context.Context, account *scope.Account, id string, maxAge time.Duration) (*vpsie.VM, error) {
	if o.PerMachine {
		details, err := account.API.GetVM(ctx, id)
		if err != nil {
			return nil, err
		}
		return &details.VM, nil
	}
	snap, err := o.get(ctx, account, time.Time{}, false, maxAge)
	if err != nil {
		return nil, fmt.Errorf("listing servers: %w", err)
	}
	if vm, ok := snap.ByIdentifier(id); ok {
		return &vm, nil
	}
	return nil, nil
}

// UntilRefresh is how long until the account's shared snapshot is due for a refresh: a machine waiting for its
// server to appear or boot looks again then, and so sees each new list as soon as one is taken instead of up
// to a poll later (the list costs the same: one per window, whoever asks first). At most limit; limit when
// there is no snapshot, or in the per-machine comparison mode, which reads no shared list.
func (o *Observer) UntilRefresh(account *scope.Account, limit time.Duration) time.Duration {
	if o.PerMachine {
		return limit
	}
	st := o.state(account.Key)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.snap == nil {
		return limit
	}
	// Just after it: the first machine to look then takes the new list, the others share it.
	d := st.snap.Taken.Add(o.window()).Sub(o.now()) + refreshSlack
	return min(limit, max(d, refreshSlack))
}

// refreshSlack is how long after a snapshot's expiry waiting machines look again; the lower bound of their
// wait, too, so that a machine that looks while a refresh is due does not spin.
const refreshSlack = 100 * time.Millisecond

// Snapshot returns the account's snapshot with its queue if it is younger than the poll window, else a new one.
func (o *Observer) Snapshot(ctx context.Context, account *scope.Account) (*Snapshot, error) {
	return o.get(ctx, account, time.Time{}, true, 0)
}

// Fresh returns a snapshot with the queue taken after this call started. Used before a create: the only
// decision that must never rest on an old list.
func (o *Observer) Fresh(ctx context.Context, account *scope.Account) (*Snapshot, error) {
	return o.get(ctx, account, o.now(), true, 0)
}

// get returns a snapshot taken at or after notBefore (zero: within the window, or maxAge when longer), with the
// queue if asked; a new one reads the queue only if asked.
func (o *Observer) get(ctx context.Context, account *scope.Account, notBefore time.Time, queue bool, maxAge time.Duration) (*Snapshot, error) {
	st := o.state(account.Key)
	if queue {
		st.mu.Lock()
		st.queueAsked = o.now()
		st.mu.Unlock()
	}
	usable := func() *Snapshot {
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.snap == nil || (queue && !st.snap.WithQueue) {
			return nil
		}
		if notBefore.IsZero() && o.now().Sub(st.snap.Taken) < max(o.window(), maxAge) {
			return st.snap
		}
		if !notBefore.IsZero() && !st.snap.Taken.Before(notBefore) {
			return st.snap
		}
		return nil
	}
	if s := usable(); s != nil {
		return s, nil
	}
	st.fetch.Lock()
	defer st.fetch.Unlock()
	// Another caller may have refreshed while this one waited.
	if s := usable(); s != nil {
		return s, nil
	}
	// The pending queue first, then the list: a server that leaves the queue between the two reads is then
	// in the list (the other order would miss it in both).
	taken := o.now()
	st.mu.Lock()
	queue = queue || taken.Sub(st.queueAsked) < 2*o.window() // waiting creators look about once a window
	st.mu.Unlock()
	var pending []vpsie.PendingVM
	if queue {
		var err error
		pending, err = account.API.ListPendingVMs(ctx)
		switch {
		case vpsie.IsNotFound(err):
			// An account's API may lack the queue route: decisions then rest on the list and the create grace.
			pending = nil
		case err != nil:
			return nil, err
		}
	}
	vms, err := account.API.ListVMs(ctx, vpsie.ListVMsOptions{})
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{VMs: vms, Pending: pending, WithQueue: queue, Taken: taken}
	// Tags are kept for listed servers only: a deleted server's stay until VPSie stops listing it, so that
	// waiting for its deletion reads them no more.
	listed := make(map[string]bool, len(vms))
	for _, vm := range vms {
		listed[string(vm.Identifier)] = true
	}
	o.serverTags().Retain(account, func(id string) bool { return listed[id] })
	snapshotsFetched.WithLabelValues(boolLabel(!notBefore.IsZero())).Inc()
	st.mu.Lock()
	st.snap = snap
	st.mu.Unlock()
	return snap, nil
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
