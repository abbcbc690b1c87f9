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

// Package vpcs reconciles a cluster's VPC. spec.network.vpc.id names an existing VPC: it is verified and used,
// never deleted. spec.network.vpc.cidr asks for a VPC the provider creates and deletes; VPSie answers the
// create with no identifier, so the VPC carries a name derived from the cluster (scope.ClusterResourceName)
// and is created through the provider's one create-or-adopt mechanism (package intent).
package vpcs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
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

// Timing of the VPC life cycle.
const (
	// DefaultPollInterval is how often a cluster waiting for its VPC looks again.
	DefaultPollInterval = 5 * time.Second
	// DefaultDeletePollInterval is how often a deleting cluster checks whether its VPC is gone.
	DefaultDeletePollInterval = 5 * time.Second
	// DeleteBlockedInterval is how long to wait when VPSie refuses a delete (e.g. servers still attached).
	DeleteBlockedInterval = 30 * time.Second
)

// Service reconciles one cluster's VPC.
type Service struct {
	scope   *scope.ClusterScope
	intents *intent.Tracker
	timing  services.PollTiming
}

// NewService returns the VPC service of a cluster. intents is the controller's create-or-adopt tracker; timing's
// zero fields take the defaults above.
func NewService(s *scope.ClusterScope, intents *intent.Tracker, timing services.PollTiming) *Service {
	return &Service{scope: s, intents: intents,
		timing: timing.OrDefaults(services.PollTiming{Poll: DefaultPollInterval, DeletePoll: DefaultDeletePollInterval})}
}

// Result is what Reconcile found.
type Result = services.Result

// DeleteResult is what Delete did.
type DeleteResult = services.DeleteResult

// ParseCIDR is the one reading of spec.network.vpc.cidr, shared by the webhook (which refuses what it
// refuses) and SplitCIDR (which sends what it accepts): an IPv4 prefix without host bits.
func ParseCIDR(cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, errors.New("must be an IPv4 CIDR such as 10.42.0.0/16")
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("host bits must be zero: use %s", p.Masked())
	}
	return p, nil
}

// SplitCIDR turns "10.42.0.0/16" into VPSie's networkRange "10.42.0.0" and networkSize "16".
func SplitCIDR(cidr string) (networkRange, networkSize string, err error) {
	p, err := ParseCIDR(cidr)
	if err != nil {
		return "", "", fmt.Errorf("%w: spec.network.vpc.cidr %q %w", services.ErrTerminal, cidr, err)
	}
	return p.Addr().String(), strconv.Itoa(p.Bits()), nil
}

// Reconcile makes the cluster's VPC exist and records it in status.network and the NetworkReady condition.
func (s *Service) Reconcile(ctx context.Context) (Result, error) {
	vc := s.scope.VPSieCluster
	switch spec := vc.Spec.Network.VPC; {
	case spec.ID != "":
		return s.reconcileExisting(ctx, spec.ID)
	case spec.CIDR != "":
		return s.reconcileOwned(ctx, spec.CIDR)
	}
	vc.Status.Network = infrav1.NetworkStatus{}
	conditions.Set(vc, metav1.Condition{
		Type: infrav1.NetworkReadyCondition, Status: metav1.ConditionTrue, Reason: infrav1.DisabledReason,
		Message: "no VPC requested (spec.network.vpc is empty)",
	})
	return Result{Ready: true}, nil
}

// reconcileExisting verifies the user's VPC. The provider never creates or deletes it.
func (s *Service) reconcileExisting(ctx context.Context, id string) (Result, error) {
	vpc, err := s.scope.Account.API.GetVPC(ctx, id)
	switch {
	case vpsie.IsNotFound(err):
		return Result{}, fmt.Errorf("%w: VPC %q (spec.network.vpc.id) does not exist in the VPSie account", services.ErrTerminal, id)
	case err != nil:
		return Result{}, fmt.Errorf("reading VPC %s: %w", id, err)
	}
	if err := s.checkDatacenter(vpc); err != nil {
		return Result{}, err
	}
	s.ready(vpc, reportedRange(vpc), "using the existing VPC %s (id %s, %s/%d); the provider never deletes it")
	return Result{Ready: true}, nil
}

// reconcileOwned finds, adopts or creates the VPC the provider owns.
func (s *Service) reconcileOwned(ctx context.Context, cidr string) (Result, error) {
	networkRange, networkSize, err := SplitCIDR(cidr)
	if err != nil {
		return Result{}, err
	}
	api, name := s.scope.Account.API, s.scope.VPCName()
	st := &s.scope.VPSieCluster.Status.Network

	if st.VPCID != "" {
		vpc, err := api.GetVPC(ctx, st.VPCID)
		switch {
		case vpsie.IsNotFound(err):
			ctrl.LoggerFrom(ctx).Info("The recorded VPC no longer exists; looking for the cluster's VPC by name", "vpc", st.VPCID, "name", name)
			st.VPCID = ""
		case err != nil:
			return Result{}, fmt.Errorf("reading VPC %s: %w", st.VPCID, err)
		case string(vpc.Name) == name:
			return s.adopt(vpc, cidr, false)
		default:
			st.VPCID = ""
		}
	}

	var found *vpsie.VPC
	req := s.request(name, &found)
	req.Fingerprint = services.Fingerprint(name, cidr, s.scope.Datacenter())
	req.Create = func(ctx context.Context) error {
		return api.CreateVPC(ctx, vpsie.CreateVPCRequest{
			Name:         name,
			Description:  fmt.Sprintf("Cluster API cluster %s/%s %s", s.scope.Namespace(), s.scope.Name(), s.scope.OwnerMark()),
			DcIdentifier: s.scope.Datacenter(),
			NetworkRange: networkRange,
			NetworkSize:  networkSize,
		})
	}
	out, err := s.intents.Ensure(ctx, req)
	if err != nil {
		return Result{}, err
	}
	switch out.Phase {
	case intent.Found:
		return s.adopt(found, cidr, false)
	case intent.Created:
		ctrl.LoggerFrom(ctx).Info("Created VPC", "name", name, "cidr", cidr)
		// VPCs are usually listed at once: look again rather than wait a poll.
		if vpc, err := s.lookup(ctx, name); err == nil && vpc != nil {
			s.intents.Forget(&req)
			return s.adopt(vpc, cidr, true)
		}
		res := s.pending(out.Waiting(ctx, "the VPC "+name))
		res.Created = true
		return res, nil
	default:
		return s.pending(out.Waiting(ctx, "the VPC "+name)), nil
	}
}

// request is the VPC's create-or-adopt; its lookup lists the VPCs and keeps the cluster's in found.
func (s *Service) request(name string, found **vpsie.VPC) intent.Request {
	return intent.Request{
		Kind: "VPC", Account: s.scope.Account.Key, Name: name,
		Intent: &s.scope.VPSieCluster.Status.Network.CreateIntent, Persist: s.scope.PatchNow,
		Lookup: func(ctx context.Context, _ bool) (intent.Observation, error) {
			vpc, err := s.lookup(ctx, name)
			if err != nil || vpc == nil {
				return intent.Observation{}, err
			}
			*found = vpc
			return intent.Observation{Sight: intent.Listed}, nil
		},
	}
}

// lookup lists the VPCs and picks the cluster's: the oldest with its name, so every reconcile picks the same.
func (s *Service) lookup(ctx context.Context, name string) (*vpsie.VPC, error) {
	vpcs, err := s.scope.Account.API.ListVPCs(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing VPCs: %w", err)
	}
	found, foreign := s.ours(vpsie.FindVPCsByName(vpcs, name))
	if len(found) == 0 {
		if len(foreign) > 0 {
			return nil, fmt.Errorf("%w: the VPC %s (id %s) has this cluster's VPC name but belongs to management cluster %s "+
				"(its description says %q); the provider neither adopts nor duplicates it: choose another spec.network.vpc.name",
				services.ErrTerminal, name, foreign[0].ID, strings.Join(scope.Owners(strings.Fields(string(foreign[0].Description))), ", "),
				foreign[0].Description)
		}
		return nil, nil
	}
	sortByID(found)
	if len(found) > 1 {
		ctrl.LoggerFrom(ctx).Info("Several VPCs share this cluster's VPC name; using the oldest", "name", name, "count", len(found))
	}
	return &found[0], nil
}

// ours splits VPCs found by name into those the cluster's identity may own (its description names it, or no
// owner at all) and those another management cluster owns. VPSie takes no tags on VPCs: the description
// carries the ownership tags.
func (s *Service) ours(vpcs []vpsie.VPC) (kept, foreign []vpsie.VPC) {
	for _, v := range vpcs {
		if scope.BelongsTo(strings.Fields(string(v.Description)), s.scope.Identity()) {
			kept = append(kept, v)
		} else {
			foreign = append(foreign, v)
		}
	}
	return kept, foreign
}

// adopt checks a VPC found by the cluster's name against the spec and records it.
func (s *Service) adopt(vpc *vpsie.VPC, cidr string, created bool) (Result, error) {
	if err := s.checkDatacenter(vpc); err != nil {
		return Result{}, err
	}
	if got, ok := sameRange(vpc, cidr); !ok {
		return Result{}, fmt.Errorf("%w: the VPC %s (id %s) has the range %s but spec.network.vpc.cidr is %s; "+
			"delete that VPC or change the cidr back", services.ErrTerminal, vpc.Name, vpc.ID, got, cidr)
	}
	s.ready(vpc, cidr, "VPC %s (id %s, %s/%d) is ready")
	return Result{Ready: true, Created: created}, nil
}

// sameRange compares a listed VPC's range with the spec's CIDR, reading VPSie leniently: a field it does not
// send (no network_size, no network_range) is not a mismatch, only a range it does send and that differs.
func sameRange(vpc *vpsie.VPC, cidr string) (string, bool) {
	want, err := netip.ParsePrefix(cidr)
	if err != nil || vpc.NetworkRange == "" {
		return "", true
	}
	addr, err := netip.ParseAddr(strings.TrimSpace(string(vpc.NetworkRange)))
	if err != nil {
		return string(vpc.NetworkRange), true // a shape we do not know: not a proof of another range
	}
	got := addr.String()
	if vpc.NetworkSize > 0 {
		got = fmt.Sprintf("%s/%d", addr, vpc.NetworkSize)
		return got, int(vpc.NetworkSize) == want.Bits() && addr == want.Addr()
	}
	return got, addr == want.Addr()
}

func (s *Service) checkDatacenter(vpc *vpsie.VPC) error {
	if dc := string(vpc.DcIdentifier); dc != "" && dc != s.scope.Datacenter() {
		return fmt.Errorf("%w: the VPC %s (id %s) is in datacenter %s, the cluster in %s",
			services.ErrTerminal, vpc.Name, vpc.ID, dc, s.scope.Datacenter())
	}
	return nil
}

// reportedRange is the range VPSie reports for a VPC as a CIDR, or "" when it reports none that parses.
func reportedRange(vpc *vpsie.VPC) string {
	addr, err := netip.ParseAddr(strings.TrimSpace(string(vpc.NetworkRange)))
	if err != nil || vpc.NetworkSize <= 0 || int(vpc.NetworkSize) > addr.BitLen() {
		return ""
	}
	return netip.PrefixFrom(addr, int(vpc.NetworkSize)).Masked().String()
}

func (s *Service) ready(vpc *vpsie.VPC, cidr, format string) {
	vc := s.scope.VPSieCluster
	// The intent is done.
	vc.Status.Network = infrav1.NetworkStatus{VPCID: vpc.ID.String(), VPCName: string(vpc.Name), CIDR: cidr}
	conditions.Set(vc, metav1.Condition{
		Type: infrav1.NetworkReadyCondition, Status: metav1.ConditionTrue, Reason: infrav1.ProvisionedReason,
		Message: fmt.Sprintf(format, vpc.Name, vpc.ID, vpc.NetworkRange, vpc.NetworkSize),
	})
}

func (s *Service) pending(message string) Result {
	conditions.Set(s.scope.VPSieCluster, metav1.Condition{
		Type: infrav1.NetworkReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.PendingReason, Message: message,
	})
	return Result{RequeueAfter: s.timing.Poll}
}

func sortByID(vpcs []vpsie.VPC) {
	sort.SliceStable(vpcs, func(i, j int) bool { return vpcs[i].ID.Before(vpcs[j].ID) })
}
