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

// Package firewalls reconciles a cluster's VPSie firewall group (VPSieCluster.spec.firewall). VPSie answers
// the create with no identifier, so the group carries a name derived from the cluster (scope.FirewallName) and
// is created through the provider's one create-or-adopt mechanism (package intent). Its rules are derived from
// the spec, the VPC and the load balancer (Desired) and put back when changed out of band; it is attached to
// every server of the cluster, by the machine controller as a server is created (Attacher) and by the cluster
// controller at each check (re-attaching what was detached out of band); it is detached and deleted with the
// cluster.
package firewalls

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/intent"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// Timing of the firewall group's life cycle.
const (
	// DefaultPollInterval is how often a cluster waiting for its group looks again.
	DefaultPollInterval = 5 * time.Second
	// DefaultDeletePollInterval is how often a deleting cluster checks whether its group is gone.
	DefaultDeletePollInterval = 5 * time.Second
	// DefaultRecheckInterval is how often a ready group's rules and attachments are compared with the spec, so
	// that a change made out of band is put back within it. One GET per cluster per interval.
	DefaultRecheckInterval = 5 * time.Minute
	// DeleteBlockedInterval is how long to wait when VPSie refuses a delete.
	DeleteBlockedInterval = 30 * time.Second
)

// Kind names the group in the create-or-adopt mechanism and in messages.
const Kind = "firewall group"

// Service reconciles one cluster's firewall group.
type Service struct {
	scope   *scope.ClusterScope
	intents *intent.Tracker
	timing  services.PollTiming
}

// NewService returns the firewall service of a cluster. intents is the controller's create-or-adopt tracker;
// timing's zero fields take the defaults above.
func NewService(s *scope.ClusterScope, intents *intent.Tracker, timing services.PollTiming) *Service {
	return &Service{scope: s, intents: intents, timing: timing.OrDefaults(services.PollTiming{
		Poll: DefaultPollInterval, DeletePoll: DefaultDeletePollInterval, Recheck: DefaultRecheckInterval})}
}

// Result is what Reconcile found and did.
type Result struct {
	services.Result
	// RulesChanged is true when this reconcile changed the group's rules.
	RulesChanged bool
	// Attached are the servers this reconcile attached the group to (new ones, or detached out of band).
	Attached []string
}

// DeleteResult is what Delete did.
type DeleteResult = services.DeleteResult

// ErrNoVPC is returned for a firewall without a VPC: its rules accept node-to-node traffic by the VPC's range.
var ErrNoVPC = errors.New("spec.firewall needs spec.network.vpc (a VPC the provider creates, cidr, or an existing one, id): " +
	"the firewall accepts traffic between the nodes by the VPC's range")

// Reconcile makes the cluster's group exist with the desired rules and attached to servers (the identifiers
// of the cluster's running servers), and records it in status.firewall and the FirewallReady condition. A
// group the spec no longer wants is deleted.
func (s *Service) Reconcile(ctx context.Context, servers []string) (Result, error) {
	vc := s.scope.VPSieCluster
	if !vc.Spec.Firewall.IsEnabled() {
		return s.reconcileDisabled(ctx)
	}
	if vc.Spec.Network.VPC == (infrav1.VPCSpec{}) {
		return Result{}, fmt.Errorf("%w: %w", services.ErrTerminal, ErrNoVPC)
	}
	in, waiting := s.inputs()
	if waiting != "" {
		return s.pending(waiting), nil
	}
	desired := Desired(in)
	group, res, err := s.find(ctx, desired)
	if err != nil || group == nil {
		return res, err
	}
	return s.converge(ctx, group, desired, servers, res)
}

// inputs gathers what the rules derive from; waiting says what is not known yet.
func (s *Service) inputs() (Inputs, string) {
	vc := s.scope.VPSieCluster
	in := Inputs{Spec: vc.Spec.Firewall, VPCCIDR: vc.Status.Network.CIDR, APIServerPort: vc.Spec.ControlPlaneEndpoint.Port}
	if lb := vc.Spec.ControlPlaneLoadBalancer; lb.IsEnabled() {
		in.APIServerPort, in.LoadBalancerIP = lb.EffectivePort(), vc.Status.LoadBalancer.IP
	}
	if in.APIServerPort == 0 {
		in.APIServerPort = infrav1.DefaultAPIServerPort
	}
	if pods := s.scope.Cluster.Spec.ClusterNetwork.Pods.CIDRBlocks; len(pods) > 0 {
		in.PodCIDRs = pods
	}
	if in.VPCCIDR == "" {
		if vc.Status.Network.VPCID != "" {
			return in, fmt.Sprintf("VPSie reports no range for the VPC %s (id %s), and the firewall accepts node-to-node "+
				"traffic by it; use a VPC the provider creates (spec.network.vpc.cidr)", vc.Status.Network.VPCName, vc.Status.Network.VPCID)
		}
		return in, "waiting for the cluster's VPC (NetworkReady): the rules accept traffic from its range"
	}
	return in, ""
}

// find returns the cluster's group (by its recorded identifier, else by name), creating it with rules when
// there is none. A nil group with no error means the create is in flight; res says so.
func (s *Service) find(ctx context.Context, rules []vpsie.FirewallRule) (*vpsie.FirewallGroup, Result, error) {
	api, name := s.scope.Account.API, s.scope.FirewallName()
	st := &s.scope.VPSieCluster.Status.Firewall
	if st.Identifier != "" {
		g, err := api.GetFirewallGroup(ctx, st.Identifier)
		switch {
		case vpsie.IsNotFound(err):
			ctrl.LoggerFrom(ctx).Info("The recorded firewall group no longer exists; looking for it by name", "group", st.Identifier, "name", name)
			st.Identifier = ""
		case err != nil:
			return nil, Result{}, fmt.Errorf("reading firewall group %s: %w", st.Identifier, err)
		case string(g.Name) == name:
			return g, Result{}, nil
		default:
			st.Identifier = ""
		}
	}

	var found *vpsie.FirewallGroup
	req := s.request(name, &found)
	req.Fingerprint = services.Fingerprint(name)
	req.Create = func(ctx context.Context) error { return api.CreateFirewallGroup(ctx, name, rules) }
	out, err := s.intents.Ensure(ctx, req)
	if err != nil {
		return nil, Result{}, err
	}
	switch out.Phase {
	case intent.Found:
		return s.read(ctx, found, Result{})
	case intent.Created:
		ctrl.LoggerFrom(ctx).Info("Created firewall group", "name", name)
		if g, err := s.lookup(ctx, name); err == nil && g != nil {
			s.intents.Forget(&req)
			return s.read(ctx, g, Result{Result: services.Result{Created: true}})
		}
		res := s.pending(out.Waiting(ctx, "the firewall group "+name))
		res.Created = true
		return nil, res, nil
	default:
		return nil, s.pending(out.Waiting(ctx, "the firewall group "+name)), nil
	}
}

// read gets a group found in the list by its identifier: the get is what tells its rules and servers for sure
// (the list's copy may be older, or carry less). A group the list shows and the get does not know is not there
// yet, or no longer: looked for again at the next poll.
func (s *Service) read(ctx context.Context, listed *vpsie.FirewallGroup, res Result) (*vpsie.FirewallGroup, Result, error) {
	g, err := s.scope.Account.API.GetFirewallGroup(ctx, GroupID(listed))
	switch {
	case vpsie.IsNotFound(err):
		pending := s.pending("VPSie lists the firewall group " + string(listed.Name) + " but does not know its identifier " +
			GroupID(listed) + " yet")
		pending.Created = res.Created
		return nil, pending, nil
	case err != nil:
		return nil, res, fmt.Errorf("reading firewall group %s: %w", GroupID(listed), err)
	}
	return g, res, nil
}

// converge records the group, puts its rules right and attaches it to the servers that lack it.
func (s *Service) converge(ctx context.Context, g *vpsie.FirewallGroup, desired []vpsie.FirewallRule, servers []string, res Result) (Result, error) {
	api, log := s.scope.Account.API, ctrl.LoggerFrom(ctx)
	id := GroupID(g)
	vc := s.scope.VPSieCluster
	vc.Status.Firewall = infrav1.FirewallStatus{Identifier: id, Name: string(g.Name)} // the intent is done

	if c := Diff(g.Rules, desired); !c.Empty() {
		if len(c.Remove) > 0 {
			// First: a rule whose comment is taken by a stray one cannot be added before it is gone.
			if err := api.DeleteFirewallRules(ctx, id, c.Remove); err != nil && !vpsie.IsNotFound(err) {
				return res, fmt.Errorf("removing %d rule(s) from firewall group %s: %w", len(c.Remove), id, err)
			}
		}
		if len(c.Upsert) > 0 {
			if err := api.UpdateFirewallRules(ctx, id, c.Upsert); err != nil {
				return res, fmt.Errorf("updating the rules of firewall group %s: %w", id, err)
			}
		}
		log.Info("Put the firewall group's rules in line with the spec", "group", id, "written", len(c.Upsert), "removed", len(c.Remove))
		res.RulesChanged = true
	}

	for _, vm := range servers {
		if attached(g, vm) {
			continue
		}
		if err := api.AttachFirewallGroup(ctx, vm, id); err != nil {
			if vpsie.IsNotFound(err) {
				continue // the server is being deleted
			}
			return res, fmt.Errorf("attaching firewall group %s to server %s: %w", id, vm, err)
		}
		res.Attached = append(res.Attached, vm)
	}
	if len(res.Attached) > 0 {
		log.Info("Attached the firewall group to the cluster's servers", "group", id, "servers", res.Attached)
	}

	conditions.Set(vc, metav1.Condition{
		Type: infrav1.FirewallReadyCondition, Status: metav1.ConditionTrue, Reason: infrav1.ProvisionedReason,
		Message: fmt.Sprintf("firewall group %s (id %s) has the %d rules the spec asks for and is attached to the cluster's %d running server(s)",
			g.Name, id, len(desired), len(servers)),
	})
	res.Ready = true
	// Rules just written are read back at the next poll; a settled group is compared again after Recheck.
	res.RequeueAfter = s.timing.Recheck
	if res.RulesChanged || len(res.Attached) > 0 {
		res.RequeueAfter = s.timing.Poll
	}
	return res, nil
}

// reconcileDisabled deletes a group the spec asked for before (it is recorded in status) and reports Disabled.
func (s *Service) reconcileDisabled(ctx context.Context) (Result, error) {
	vc := s.scope.VPSieCluster
	if st := vc.Status.Firewall; st.Identifier != "" || st.CreateIntent != nil {
		del, err := s.Delete(ctx)
		if err != nil || !del.Done {
			return Result{Result: services.Result{RequeueAfter: del.RequeueAfter}}, err
		}
		ctrl.LoggerFrom(ctx).Info("Deleted the firewall group: spec.firewall.enabled is false", "name", s.scope.FirewallName())
	}
	vc.Status.Firewall = infrav1.FirewallStatus{}
	conditions.Set(vc, metav1.Condition{
		Type: infrav1.FirewallReadyCondition, Status: metav1.ConditionTrue, Reason: infrav1.DisabledReason,
		Message: "no firewall group requested (spec.firewall.enabled is not true)",
	})
	return Result{Result: services.Result{Ready: true}}, nil
}

// request is the group's create-or-adopt; its lookup lists the groups and keeps the cluster's in found.
func (s *Service) request(name string, found **vpsie.FirewallGroup) intent.Request {
	return intent.Request{
		Kind: Kind, Account: s.scope.Account.Key, Name: name,
		Intent: &s.scope.VPSieCluster.Status.Firewall.CreateIntent, Persist: s.scope.PatchNow,
		Lookup: func(ctx context.Context, _ bool) (intent.Observation, error) {
			g, err := s.lookup(ctx, name)
			if err != nil || g == nil {
				return intent.Observation{}, err
			}
			*found = g
			return intent.Observation{Sight: intent.Listed}, nil
		},
	}
}

// lookup lists the groups and picks the cluster's: the oldest with its name, so every reconcile picks the same.
// The name carries a hash of the management-cluster identity, so another management cluster's group never
// has it.
func (s *Service) lookup(ctx context.Context, name string) (*vpsie.FirewallGroup, error) {
	found, err := s.named(ctx, name)
	if err != nil || len(found) == 0 {
		return nil, err
	}
	if len(found) > 1 {
		ctrl.LoggerFrom(ctx).Info("Several firewall groups share this cluster's group name; using the oldest", "name", name, "count", len(found))
	}
	return &found[0], nil
}

// errNoRoute marks a group list VPSie answered 404 (an unknown route answers so): this account's API has no
// firewall groups, so none can exist either.
var errNoRoute = errors.New("VPSie's API answers 404 for the list of firewall groups (GET /apps/v2/firewall/groups): " +
	"this account's API has no firewall groups")

// named lists the groups of the name, oldest first.
func (s *Service) named(ctx context.Context, name string) ([]vpsie.FirewallGroup, error) {
	groups, err := s.scope.Account.API.ListFirewallGroups(ctx)
	switch {
	case vpsie.IsNotFound(err):
		return nil, fmt.Errorf("%w: %w; spec.firewall.enabled needs them: turn it off, or ask VPSie", services.ErrTerminal, errNoRoute)
	case err != nil:
		return nil, fmt.Errorf("listing firewall groups: %w", err)
	}
	found := vpsie.FindFirewallGroupsByName(groups, name)
	sort.SliceStable(found, func(i, j int) bool { return found[i].ID.Before(found[j].ID) })
	return found, nil
}

func (s *Service) pending(message string) Result {
	conditions.Set(s.scope.VPSieCluster, metav1.Condition{
		Type: infrav1.FirewallReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.PendingReason, Message: message,
	})
	return Result{Result: services.Result{RequeueAfter: s.timing.Poll}}
}

// GroupID is how calls name a group: its identifier (a UUID), or its numeric id when an answer lacks it.
func GroupID(g *vpsie.FirewallGroup) string {
	if g.Identifier != "" {
		return string(g.Identifier)
	}
	return g.ID.String()
}

func attached(g *vpsie.FirewallGroup, vm string) bool {
	return slices.ContainsFunc(g.VMs, func(v vpsie.FirewallVM) bool { return string(v.Identifier) == vm })
}
