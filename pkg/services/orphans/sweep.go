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

// Package orphans is the orphan sweep: it finds VPSie resources that carry this management cluster's
// ownership tags but whose owner object (VPSieMachine for a server, VPSieCluster for a VPC or load balancer)
// has been gone for longer than a grace period, and deletes them (or only reports them). It is the safety net
// behind the controllers' own deletions, which can leak: a finalizer removed by hand, a server created by a
// request whose answer was lost after its VPSieMachine went, a namespace force-deleted.
//
// What is ours. A resource is swept only when it is provably this manager's alone: it carries capvpsie-managed
// and exactly one owner tag, capvpsie-owner:<Identity>. Untagged resources, other identities' and those with two
// owner tags are never touched. Two owner tags mean a cluster moved with clusterctl move: the target manager
// claims what it took over by adding its own owner tag, and the claim makes the source's sweep let go. A
// cluster with any such server is "handed off" for the life of the process: its VPC and load balancer are
// never swept by us either.
//
// How ownership is read. Servers carry tags (read with GetVM, kept per process: tags change only by claims,
// which only ever make a server less ours, so a cached "not ours" stays true; a server about to be deleted
// is read again so that a claim added since is seen). VPCs take no tags: the provider writes the same words
// into the VPC's description. Load balancers carry no readable tags at all: a load balancer is recognised
// only by its exact name, scope.ClusterResourceName(Identity, namespace, cluster), for a cluster learned
// from the tags of its servers or the description of its VPC. A load balancer whose cluster left neither a
// server nor a VPC behind (and which this process did not learn about while the cluster still had them)
// cannot be found and is not swept.
//
// Grace. An owner must have been seen absent by this process, continuously, for Options.Grace before what it
// owned is touched; it reappearing resets the clock. A restart forgets every first-seen time and the grace
// starts over. That is deliberate: after clusterctl move the objects are gone from the source at once, and
// the target manager claims the resources (adds its owner tag) within minutes of its first reconciles; the
// grace is what keeps the source from sweeping them in between, and a restart must not shorten it.
//
// Order. Servers go first. A cluster's VPC and load balancer wait while any live server in the account still
// carries the cluster's tag, or any VPSieMachine of the cluster still exists: they are swept at a later pass,
// once the servers are gone. A pass decides nothing on partial information: a failed server list skips the
// account, a server whose tags could not be read holds back the account's VPCs and load balancers.
//
// Accounts. Each pass sweeps every account named by the credentials Secret of a current VPSieCluster, and
// those remembered from earlier passes (a cluster's last VPSieCluster may be the very one that was deleted
// with a leak). Secrets with the same credentials are one account, swept once.
package orphans

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
)

// Mode is what the sweep does with an orphan.
type Mode string

const (
	// ModeDelete deletes orphans (the default).
	ModeDelete Mode = "delete"
	// ModeReport only logs and counts them: to see what the sweep would delete before trusting it.
	ModeReport Mode = "report"
	// ModeOff runs no sweep at all.
	ModeOff Mode = "off"
)

// ParseMode reads a mode as given on the command line: delete, report or off.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case ModeDelete, ModeReport, ModeOff:
		return m, nil
	}
	return "", fmt.Errorf("orphan sweep mode %q: want %s, %s or %s", s, ModeDelete, ModeReport, ModeOff)
}

const (
	// DefaultGrace is how long an owner must have been seen absent. It outlasts a clusterctl move by far (the
	// target claims the resources within minutes) and any controller's own deletion of its server.
	DefaultGrace = time.Hour
	// DefaultInterval is the time between passes: each pass lists every server of every account (one paged
	// request per account) plus GetVM for servers not seen before.
	DefaultInterval = 10 * time.Minute
)

// Options configure a Sweeper. Zero values pick the defaults.
type Options struct {
	// Identity is the running manager's management-cluster identity: only resources whose single owner tag
	// names it are swept.
	Identity string
	// Mode defaults to ModeDelete.
	Mode Mode
	// Grace is how long an owner object must have been seen absent, by this process and continuously, before
	// its resources are orphans. Default DefaultGrace.
	Grace time.Duration
	// Interval is the time between passes of Start. Default DefaultInterval.
	Interval time.Duration
	// Now is the clock; default time.Now. Tests drive passes with a fake one.
	Now func() time.Time
}

// withDefaults validates the options and fills the defaults.
func (o Options) withDefaults() (Options, error) {
	if err := scope.ValidateIdentity(o.Identity); err != nil {
		return o, fmt.Errorf("orphan sweep: %w", err)
	}
	if o.Mode == "" {
		o.Mode = ModeDelete
	}
	if _, err := ParseMode(string(o.Mode)); err != nil {
		return o, err
	}
	if o.Grace < 0 || o.Interval < 0 {
		return o, fmt.Errorf("orphan sweep: grace %s and interval %s must not be negative", o.Grace, o.Interval)
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// Kinds of Orphan.
const (
	KindServer       = "server"
	KindVPC          = "vpc"
	KindLoadBalancer = "loadBalancer"
	// KindFirewallGroup is a cluster's firewall group, found by the name its identity and namespace/name give.
	KindFirewallGroup = "firewallGroup"
)

// Orphan is a resource a pass found orphaned.
type Orphan struct {
	// Kind is KindServer, KindVPC, KindLoadBalancer or KindFirewallGroup.
	Kind string
	// Name is the server's hostname, the VPC's or the load balancer's name.
	Name string
	// ID is the VPSie identifier (VPC: id).
	ID string
	// Owner is namespace/name of the VPSieMachine (server) or VPSieCluster (VPC, load balancer, firewall group) that is gone.
	Owner string
	// AbsentSince is when this process first saw the owner absent.
	AbsentSince time.Time
	// Deleted tells the delete succeeded (or the resource was already gone). False in ModeReport.
	Deleted bool
}

// Report is what one pass did.
type Report struct {
	// Orphans found, in the order they were handled.
	Orphans []Orphan
	// Accounts is how many distinct accounts were swept; Skipped how many could not be (listing their servers
	// failed), so nothing was decided for them.
	Accounts, Skipped int
	// Errors are the pass's failures; Sweep also returns them joined.
	Errors []error
}

// Sweeper is the orphan sweep, a manager.Runnable that runs only on the leader.
type Sweeper struct {
	Options
	// Reader reads VPSieClusters, VPSieMachines and Secrets. It must be uncached (the manager's API reader):
	// a cache that has not synced, or lags, would show owners absent that exist.
	Reader client.Reader
	// Accounts gives the VPSie account of a credentials Secret.
	Accounts scope.AccountFactory
	// ServerTags reads and keeps servers' tags; shared with the machine controller, so that a claim it made is
	// seen here without a read. One of its own when nil.
	ServerTags *services.ServerTags

	// mu serialises passes and guards the state below, all of which lasts for the process life.
	mu sync.Mutex
	// absent is when each owner object was first seen absent, since it was last seen present.
	absent map[ownerKey]time.Time
	// secrets are the credentials Secrets of every VPSieCluster seen.
	secrets map[types.NamespacedName]struct{}
	// accounts is per-account state, by Account.Key.
	accounts map[string]*accountState
}

var (
	_ manager.Runnable               = (*Sweeper)(nil)
	_ manager.LeaderElectionRunnable = (*Sweeper)(nil)
)

// accountState is what the sweep keeps about one account between passes.
type accountState struct {
	// clusters are the cluster tuples learned from servers and VPCs that only we own, kept until nothing of
	// them is left, so that a load balancer is still found after its servers were swept.
	clusters map[types.NamespacedName]struct{}
	// handedOff are clusters seen with a claimed server: moved to another manager, never swept.
	handedOff map[types.NamespacedName]struct{}
}

// ownerKey names an owner object: Kind "VPSieMachine" or "VPSieCluster".
type ownerKey struct {
	Kind string
	types.NamespacedName
}

// NeedLeaderElection is true: two replicas sweeping at once would only duplicate the deletes, but a
// standby's first-seen times would also be younger than the leader's.
func (s *Sweeper) NeedLeaderElection() bool { return true }

// Start sweeps at once and then every Interval until ctx is done. ModeOff returns at once. A failing pass is
// logged and counted; only invalid options make Start fail.
func (s *Sweeper) Start(ctx context.Context) error {
	opts, err := s.withDefaults()
	if err != nil {
		sweepErrors.WithLabelValues(opInvalidSettings).Inc()
		return err
	}
	log := ctrl.LoggerFrom(ctx).WithName("orphan-sweep")
	if opts.Mode == ModeOff {
		log.Info("Orphan sweep is off")
		return nil
	}
	log.Info("Orphan sweep started", "identity", opts.Identity, "mode", opts.Mode, "grace", opts.Grace.String(),
		"interval", opts.Interval.String())
	ctx = ctrl.LoggerInto(ctx, log)
	ticker := time.NewTicker(opts.Interval)
	defer ticker.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		report, err := s.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error(err, "Orphan sweep pass had errors", "orphans", len(report.Orphans), "accounts", report.Accounts,
				"skippedAccounts", report.Skipped)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Sweep runs one pass (none in ModeOff). The returned error joins every failure of the pass (Report.Errors),
// or says why the pass could not run at all; the Report tells what was done either way. Passes are
// serialised: a Sweep waits for one in progress.
func (s *Sweeper) Sweep(ctx context.Context) (Report, error) {
	opts, err := s.withDefaults()
	if err != nil {
		sweepErrors.WithLabelValues(opInvalidSettings).Inc()
		return Report{}, err
	}
	if opts.Mode == ModeOff {
		return Report{}, nil
	}
	if s.Reader == nil || s.Accounts == nil {
		return Report{}, errors.New("orphan sweep needs a Reader and an AccountFactory")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ServerTags == nil {
		s.ServerTags = &services.ServerTags{}
	}
	p, err := s.newPass(ctx, opts)
	if err != nil {
		sweepErrors.WithLabelValues(opListKubernetes).Inc()
		return Report{}, err
	}
	for _, acc := range s.sweepAccounts(ctx, p) {
		p.sweepAccount(ctx, acc)
	}
	s.prune(p)
	lastSweep.SetToCurrentTime()
	return p.report, errors.Join(p.report.Errors...)
}

// prune forgets the first-seen times of owners no resource named this pass, when the pass saw every
// account: what is not referenced any more needs no clock, and memory stays bounded.
func (s *Sweeper) prune(p *pass) {
	if p.report.Skipped > 0 || p.incomplete {
		return
	}
	for k := range s.absent {
		if !p.seen[k] {
			delete(s.absent, k)
		}
	}
}

// state is the per-account state of key, created on first use.
func (s *Sweeper) state(key string) *accountState {
	if s.accounts == nil {
		s.accounts = map[string]*accountState{}
	}
	st := s.accounts[key]
	if st == nil {
		st = &accountState{clusters: map[types.NamespacedName]struct{}{},
			handedOff: map[types.NamespacedName]struct{}{}}
		s.accounts[key] = st
	}
	return st
}
