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

package vpsie

import "context"

// API is every call the Client offers. Services depend on narrower interfaces of their own
// (or on this one) so that tests can substitute a fake; *Client implements it.
type API interface {
	ListVMs(ctx context.Context, opts ListVMsOptions) ([]VM, error)
	GetVM(ctx context.Context, identifier string) (*VMDetails, error)
	CreateVM(ctx context.Context, req CreateVMRequest) error
	DeleteVM(ctx context.Context, identifier, password, reason, note string) error
	StartVM(ctx context.Context, identifier string) error
	StopVM(ctx context.Context, identifier string) error
	RestartVM(ctx context.Context, identifier string) error
	GetVMStatus(ctx context.Context, identifier string) (*VMStatus, error)
	ListPendingVMs(ctx context.Context) ([]PendingVM, error)
	AddVMTags(ctx context.Context, identifier string, tags []string) error

	ListDatacenters(ctx context.Context) ([]Datacenter, error)
	ListPlans(ctx context.Context, q PlanQuery) ([]Plan, error)
	ListPlanCategories(ctx context.Context) ([]PlanCategory, error)
	ListCustomImages(ctx context.Context) ([]CustomImage, error)
	ListSSHKeys(ctx context.Context) ([]SSHKey, error)
	CreateSSHKey(ctx context.Context, name, publicKey string) error
	DeleteSSHKey(ctx context.Context, identifier string) error
	ListTags(ctx context.Context) ([]Tag, error)
	CreateTag(ctx context.Context, name, color string) error
	SetTags(ctx context.Context, entity, identifier string, tags []string) error

	ListVPCs(ctx context.Context) ([]VPC, error)
	GetVPC(ctx context.Context, id string) (*VPC, error)
	CreateVPC(ctx context.Context, req CreateVPCRequest) error
	DeleteVPC(ctx context.Context, id, reason, note string) error
	AttachVPC(ctx context.Context, vmIdentifier, vpcID, dcIdentifier string) error
	DetachVPC(ctx context.Context, vmIdentifier, privateIPID string) error

	ListFirewallGroups(ctx context.Context) ([]FirewallGroup, error)
	GetFirewallGroup(ctx context.Context, identifier string) (*FirewallGroup, error)
	CreateFirewallGroup(ctx context.Context, name string, rules []FirewallRule) error
	UpdateFirewallRules(ctx context.Context, group string, rules []FirewallRule) error
	DeleteFirewallRules(ctx context.Context, group string, ruleIdentifiers []string) error
	DeleteFirewallGroup(ctx context.Context, group, reason, note string) error
	AttachFirewallGroup(ctx context.Context, vmIdentifier, group string) error
	DetachFirewallGroup(ctx context.Context, vmIdentifier, group string) error

	ListLoadBalancers(ctx context.Context) ([]LoadBalancer, error)
	GetLoadBalancer(ctx context.Context, identifier string) (*LoadBalancer, error)
	CreateLoadBalancer(ctx context.Context, req CreateLoadBalancerRequest) error
	DeleteLoadBalancer(ctx context.Context, identifier, reason, note string) error
	UpdateLBRule(ctx context.Context, req UpdateLBRuleRequest) error
	DeleteLBBackend(ctx context.Context, backendID string) error
	ListPendingLoadBalancers(ctx context.Context) ([]PendingLoadBalancer, error)
	ListLoadBalancerOffers(ctx context.Context, dcIdentifier string) ([]LBPlan, error)
}

var _ API = (*Client)(nil)
