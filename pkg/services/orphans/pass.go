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

package orphans

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	ctrl "sigs.k8s.io/controller-runtime"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// Kinds of ownerKey.
const (
	ownerMachine = "VPSieMachine"
	ownerCluster = "VPSieCluster"
)

// pass is one Sweep: the Kubernetes objects as listed at its start, and what it found.
type pass struct {
	s    *Sweeper
	opts Options
	now  time.Time

	clusters map[types.NamespacedName]bool
	machines map[types.NamespacedName]bool
	// hostnames are the status.hostname of existing VPSieMachines, lower-case: their servers need no GetVM.
	hostnames map[string]bool
	// machineClusters are, by namespace, the cluster-name labels of existing VPSieMachines ("" for a machine
	// without the label: its cluster is unknown, so it holds back every cluster of its namespace).
	machineClusters map[string]map[string]bool
	// referenced are the credentials Secrets current VPSieClusters name.
	referenced map[types.NamespacedName]bool

	// seen are the owners a resource named during this pass.
	seen map[ownerKey]bool
	// incomplete is set when some account's resources could not all be read: first-seen times are then kept.
	incomplete bool
	report     Report
}

// newPass lists the VPSieClusters and VPSieMachines, remembers the credentials Secrets, and forgets the
// first-seen times of owners that exist again: absence must be continuous.
func (s *Sweeper) newPass(ctx context.Context, opts Options) (*pass, error) {
	var vcs infrav1.VPSieClusterList
	if err := s.Reader.List(ctx, &vcs); err != nil {
		return nil, fmt.Errorf("orphan sweep: listing VPSieClusters: %w", err)
	}
	var vms infrav1.VPSieMachineList
	if err := s.Reader.List(ctx, &vms); err != nil {
		return nil, fmt.Errorf("orphan sweep: listing VPSieMachines: %w", err)
	}
	p := &pass{s: s, opts: opts, now: opts.Now(), clusters: map[types.NamespacedName]bool{},
		machines: map[types.NamespacedName]bool{}, hostnames: map[string]bool{},
		machineClusters: map[string]map[string]bool{}, referenced: map[types.NamespacedName]bool{},
		seen: map[ownerKey]bool{}}
	if s.secrets == nil {
		s.secrets = map[types.NamespacedName]struct{}{}
	}
	for i := range vcs.Items {
		vc := &vcs.Items[i]
		p.clusters[types.NamespacedName{Namespace: vc.Namespace, Name: vc.Name}] = true
		if ref := vc.Spec.CredentialsRef.Name; ref != "" {
			key := types.NamespacedName{Namespace: vc.Namespace, Name: ref}
			p.referenced[key] = true
			s.secrets[key] = struct{}{}
		}
	}
	for i := range vms.Items {
		vm := &vms.Items[i]
		p.machines[types.NamespacedName{Namespace: vm.Namespace, Name: vm.Name}] = true
		if h := vm.Status.Hostname; h != "" {
			p.hostnames[strings.ToLower(h)] = true
		}
		if p.machineClusters[vm.Namespace] == nil {
			p.machineClusters[vm.Namespace] = map[string]bool{}
		}
		p.machineClusters[vm.Namespace][vm.Labels[clusterv1.ClusterNameLabel]] = true
	}
	for k := range s.absent {
		if p.exists(k) {
			delete(s.absent, k)
		}
	}
	return p, nil
}

func (p *pass) exists(k ownerKey) bool {
	if k.Kind == ownerMachine {
		return p.machines[k.NamespacedName]
	}
	return p.clusters[k.NamespacedName]
}

// absentSince notes that an owner is absent and returns when this process first saw it so.
func (p *pass) absentSince(k ownerKey) time.Time {
	p.seen[k] = true
	if p.s.absent == nil {
		p.s.absent = map[ownerKey]time.Time{}
	}
	since, ok := p.s.absent[k]
	if !ok {
		since = p.now
		p.s.absent[k] = since
	}
	return since
}

func (p *pass) graceOver(since time.Time) bool { return p.now.Sub(since) >= p.opts.Grace }

// machineHoldsCluster tells whether an existing VPSieMachine may belong to the cluster: one labelled with
// it, or one without the label in its namespace. Its server may not have been read (see hostnames).
func (p *pass) machineHoldsCluster(c types.NamespacedName) bool {
	labels := p.machineClusters[c.Namespace]
	return labels[c.Name] || labels[""]
}

// onlyOurs tells whether tags (or description words) mark a resource as managed and owned by this manager
// alone: a second owner tag is a claim by the manager the cluster was moved to.
func (p *pass) onlyOurs(tags []string) bool {
	owners := scope.Owners(tags)
	return len(owners) == 1 && owners[0] == p.opts.Identity &&
		slices.ContainsFunc(tags, func(t string) bool { return strings.TrimSpace(t) == scope.TagManaged })
}

// fail records an error of the pass.
func (p *pass) fail(ctx context.Context, op string, err error) {
	sweepErrors.WithLabelValues(op).Inc()
	p.report.Errors = append(p.report.Errors, err)
	ctrl.LoggerFrom(ctx).Error(err, "Orphan sweep error", "operation", op)
}

// orphan reports an orphan and, in ModeDelete, deletes it. A failed delete is recorded and the pass goes on
// with the next resource; "not found" means it is already gone.
func (p *pass) orphan(ctx context.Context, o Orphan, op string, del func(context.Context) error) {
	action := actionReported
	if p.opts.Mode == ModeDelete {
		switch err := del(ctx); {
		case err == nil, vpsie.IsNotFound(err):
			o.Deleted, action = true, actionDeleted
		default:
			action = actionFailed
			p.fail(ctx, op, fmt.Errorf("deleting orphaned %s %s (%s) of %s: %w", o.Kind, o.Name, o.ID, o.Owner, err))
		}
	}
	ctrl.LoggerFrom(ctx).Info("Orphaned VPSie resource", "kind", o.Kind, "name", o.Name, "identifier", o.ID,
		"owner", o.Owner, "absentSince", o.AbsentSince.UTC().Format(time.RFC3339), "action", action)
	orphansFound.WithLabelValues(o.Kind, action).Inc()
	p.report.Orphans = append(p.report.Orphans, o)
}

// deleteNote is the note sent with a delete, shown in VPSie's records of why the resource went.
func (p *pass) deleteNote(ownerKind string, owner types.NamespacedName, since time.Time) string {
	return fmt.Sprintf("cluster-api-provider-vpsie orphan sweep (management cluster %s): %s %s is gone (absent since %s)",
		p.opts.Identity, ownerKind, owner, since.UTC().Format(time.RFC3339))
}

// sweptAccount is an account to sweep and the Secret it was read from (for logs).
type sweptAccount struct {
	secret  types.NamespacedName
	account *scope.Account
}

// sweepAccounts reads every remembered credentials Secret, in a stable order, and keeps one Secret per
// account. A Secret that does not read is skipped; one that is gone and that no VPSieCluster names any more
// is forgotten.
func (s *Sweeper) sweepAccounts(ctx context.Context, p *pass) []sweptAccount {
	log := ctrl.LoggerFrom(ctx)
	keys := make([]types.NamespacedName, 0, len(s.secrets))
	for k := range s.secrets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b types.NamespacedName) int { return cmp.Compare(a.String(), b.String()) })
	var out []sweptAccount
	byKey := map[string]bool{}
	for _, key := range keys {
		_, creds, err := scope.ReadCredentials(ctx, s.Reader, key)
		if err != nil {
			if errors.Is(err, scope.ErrCredentialsNotFound) && !p.referenced[key] {
				delete(s.secrets, key)
			} else {
				p.incomplete = true
			}
			log.V(1).Info("Skipping a credentials Secret that does not read", "secret", key.String(), "error", err.Error())
			continue
		}
		account, err := s.Accounts.Account(key, creds)
		if err != nil {
			p.incomplete = true
			p.fail(ctx, opAccount, fmt.Errorf("orphan sweep: building the VPSie client of Secret %s: %w", key, err))
			continue
		}
		if byKey[account.Key] {
			continue
		}
		byKey[account.Key] = true
		out = append(out, sweptAccount{secret: key, account: account})
	}
	return out
}

// accountPass is the sweep of one account within a pass.
type accountPass struct {
	*pass
	account *scope.Account
	st      *accountState
	// live are, by cluster, the identifiers of the live servers whose tags were read and that may be this
	// manager's; reported those of them this pass reported (in ModeReport) as orphans.
	live, reported map[types.NamespacedName][]string
	// unread is set when some server's tags could not be read: its cluster is unknown.
	unread bool
}

// sweepAccount sweeps one account: servers first, then VPCs and load balancers.
func (p *pass) sweepAccount(ctx context.Context, sa sweptAccount) {
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithValues("credentials", sa.secret.String()))
	a := &accountPass{pass: p, account: sa.account, st: p.s.state(sa.account.Key),
		live: map[types.NamespacedName][]string{}, reported: map[types.NamespacedName][]string{}}
	if err := a.servers(ctx); err != nil {
		p.report.Skipped++
		p.fail(ctx, opListVMs, fmt.Errorf("orphan sweep: listing the servers of the account of Secret %s, "+
			"skipping the account this pass: %w", sa.secret, err))
		return
	}
	p.report.Accounts++
	a.clusterResources(ctx)
}
