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

package loadbalancers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// Backends are changed by reading the load balancer's live rule and writing the rule's whole backend list
// back (VPSie has no "add one backend" call). Two control-plane machines of one cluster reconciled at the same
// time would otherwise each write the list they read and lose the other's backend: within this process the
// read-modify-write of one load balancer is serialised. (Across processes leader election keeps one writer;
// a lost update is repaired by the next reconcile, since callers call EnsureBackend on every reconcile.)
var lbLocks sync.Map // load balancer identifier -> *sync.Mutex

func lockLB(identifier string) func() {
	m, _ := lbLocks.LoadOrStore(identifier, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// EnsureBackend makes the server vmIdentifier at ip a backend of the load balancer's rule for port. It reads
// the load balancer's live state (never a cached list) and does nothing when the backend is there; a stale
// entry of the same server with another address is replaced. Call it on every reconcile of a control-plane
// machine: it is idempotent and cheap when nothing changes.
func EnsureBackend(ctx context.Context, account *scope.Account, lbIdentifier, vmIdentifier, ip string, port int32) error {
	if lbIdentifier == "" || vmIdentifier == "" || ip == "" {
		return errors.New("EnsureBackend needs a load balancer identifier, a server identifier and an address")
	}
	defer lockLB(lbIdentifier)()
	lb, err := account.API.GetLoadBalancer(ctx, lbIdentifier)
	if err != nil {
		return fmt.Errorf("reading load balancer %s: %w", lbIdentifier, err)
	}
	rule := FindRule(lb, port)
	if rule == nil {
		return fmt.Errorf("%w: load balancer %s has no rule for port %d", services.ErrTerminal, lbIdentifier, port)
	}
	backends := make([]vpsie.BackendTarget, 0, len(rule.Backends)+1)
	for _, b := range rule.Backends {
		switch {
		case string(b.VMIdentifier) == vmIdentifier && string(b.IP) == ip:
			return nil
		case string(b.VMIdentifier) == vmIdentifier:
			continue // the server's old address
		}
		backends = append(backends, vpsie.BackendTarget{IP: string(b.IP), VMIdentifier: string(b.VMIdentifier)})
	}
	backends = append(backends, vpsie.BackendTarget{IP: ip, VMIdentifier: vmIdentifier})
	if err := account.API.UpdateLBRule(ctx, updateRequest(rule, backends)); err != nil {
		return fmt.Errorf("adding server %s to load balancer %s: %w", vmIdentifier, lbIdentifier, err)
	}
	return nil
}

// RemoveBackend removes every backend of the server vmIdentifier from the load balancer's rules, reading its
// live state. A load balancer or backend that no longer exists is success.
func RemoveBackend(ctx context.Context, account *scope.Account, lbIdentifier, vmIdentifier string) error {
	if lbIdentifier == "" || vmIdentifier == "" {
		return nil
	}
	defer lockLB(lbIdentifier)()
	lb, err := account.API.GetLoadBalancer(ctx, lbIdentifier)
	switch {
	case vpsie.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading load balancer %s: %w", lbIdentifier, err)
	}
	for i := range lb.Rules {
		rule := &lb.Rules[i]
		var keep []vpsie.BackendTarget
		var ids []string
		byID := true
		for _, b := range rule.Backends {
			if string(b.VMIdentifier) != vmIdentifier {
				keep = append(keep, vpsie.BackendTarget{IP: string(b.IP), VMIdentifier: string(b.VMIdentifier)})
				continue
			}
			ids = append(ids, string(b.Identifier))
			byID = byID && b.Identifier != ""
		}
		switch {
		case len(ids) == 0:
		case byID:
			for _, id := range ids {
				if err := account.API.DeleteLBBackend(ctx, id); err != nil && !vpsie.IsNotFound(err) {
					return fmt.Errorf("removing server %s from load balancer %s: %w", vmIdentifier, lbIdentifier, err)
				}
			}
		default:
			// No backend ids in the answer: write the rule back without the server.
			if err := account.API.UpdateLBRule(ctx, updateRequest(rule, keep)); err != nil && !vpsie.IsNotFound(err) {
				return fmt.Errorf("removing server %s from load balancer %s: %w", vmIdentifier, lbIdentifier, err)
			}
		}
	}
	return nil
}

// HasBackend tells whether the server vmIdentifier is a backend of the load balancer's rule for port, reading
// its live state.
func HasBackend(ctx context.Context, account *scope.Account, lbIdentifier, vmIdentifier string, port int32) (bool, error) {
	lb, err := account.API.GetLoadBalancer(ctx, lbIdentifier)
	if err != nil {
		return false, fmt.Errorf("reading load balancer %s: %w", lbIdentifier, err)
	}
	if rule := FindRule(lb, port); rule != nil {
		for _, b := range rule.Backends {
			if string(b.VMIdentifier) == vmIdentifier {
				return true, nil
			}
		}
	}
	return false, nil
}

func updateRequest(rule *vpsie.LBRule, backends []vpsie.BackendTarget) vpsie.UpdateLBRuleRequest {
	scheme := string(rule.Scheme)
	if scheme == "" {
		scheme = "tcp"
	}
	if backends == nil {
		backends = []vpsie.BackendTarget{}
	}
	return vpsie.UpdateLBRuleRequest{
		RuleID: string(rule.RuleID), Scheme: scheme, FrontPort: int(rule.FrontPort), BackPort: int(rule.BackPort), Backends: backends,
	}
}

// DefaultPruneInterval is how often a cluster's load balancer is checked for backends of servers that are gone.
const DefaultPruneInterval = 5 * time.Minute

// BackendPruner removes backends of servers that no longer exist from a load balancer: a control-plane server
// deleted out of band, or a machine deleted while its backend removal failed, would otherwise stay a backend
// forever and receive (and fail) a share of the API server's connections. A backend is removed only when the
// complete VM list does not show its server AND VPSie's answer for that server says it does not exist or is
// deleted: a list that lags behind a new server must not cost it its backend. One BackendPruner serves a
// whole controller; the zero value is ready.
type BackendPruner struct {
	// Interval between checks of one load balancer; DefaultPruneInterval when zero.
	Interval time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu   sync.Mutex
	last map[string]time.Time
}

func (p *BackendPruner) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Every is the interval between checks of one load balancer.
func (p *BackendPruner) Every() time.Duration {
	if p.Interval <= 0 {
		return DefaultPruneInterval
	}
	return p.Interval
}

// due tells whether lbIdentifier is due a check, and marks it checked.
func (p *BackendPruner) due(lbIdentifier string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if at, ok := p.last[lbIdentifier]; ok && p.now().Sub(at) < p.Every() {
		return false
	}
	if p.last == nil {
		p.last = map[string]time.Time{}
	}
	p.last[lbIdentifier] = p.now()
	return true
}

// Prune removes, at most once per interval, the backends of lb whose servers are gone, and returns their
// server identifiers.
func (p *BackendPruner) Prune(ctx context.Context, account *scope.Account, lb *vpsie.LoadBalancer) ([]string, error) {
	id := string(lb.Identifier)
	if p == nil || !p.due(id) {
		return nil, nil
	}
	candidates := map[string]bool{}
	for _, r := range lb.Rules {
		for _, b := range r.Backends {
			if b.VMIdentifier != "" {
				candidates[string(b.VMIdentifier)] = true
			}
		}
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	vms, err := account.API.ListVMs(ctx, vpsie.ListVMsOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing servers to check the backends of load balancer %s: %w", id, err)
	}
	for _, vm := range vms {
		if !vm.IsGone() {
			delete(candidates, string(vm.Identifier))
		}
	}
	var removed []string
	for vmID := range candidates {
		details, err := account.API.GetVM(ctx, vmID)
		switch {
		case err == nil && !details.VM.IsGone():
			continue // listed late: keep it
		case err != nil && !vpsie.IsNotFound(err):
			return removed, fmt.Errorf("reading server %s, a backend of load balancer %s: %w", vmID, id, err)
		}
		if err := RemoveBackend(ctx, account, id, vmID); err != nil {
			return removed, err
		}
		removed = append(removed, vmID)
	}
	sort.Strings(removed)
	return removed, nil
}
