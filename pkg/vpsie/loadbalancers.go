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

import (
	"context"
	"net/http"
	"net/url"
)

// lbPath is the load balancer API, the one place VPSie uses /api/v1.
const lbPath = "/api/v1/lb"

// LoadBalancer is an entry of GET /api/v1/lb/all, or the answer of GET /api/v1/lb/{id}
// (which adds Rules).
type LoadBalancer struct {
	Identifier String   `json:"identifier"`
	Name       String   `json:"lbName"`
	DefaultIP  String   `json:"default_ip"`
	DcName     String   `json:"dc_name"`
	DcID       String   `json:"dcId"`
	CreatedOn  String   `json:"created_on"`
	CPU        Int      `json:"cpu"`
	RAM        Int      `json:"ram"`
	SSD        Int      `json:"ssd"`
	Traffic    Int      `json:"traffic"`
	BoxSizeID  Int      `json:"boxsize_id"`
	Package    String   `json:"package"`
	Rules      []LBRule `json:"rules"`
}

// LBRule is a forwarding rule; ports arrive as numbers or strings.
type LBRule struct {
	RuleID    String      `json:"ruleId"`
	Scheme    String      `json:"scheme"`
	FrontPort Int         `json:"frontPort"`
	BackPort  Int         `json:"backPort"`
	Backends  []LBBackend `json:"backends"`
}

// LBBackend is a rule's backend. Identifier is the backend id DeleteLBBackend takes.
type LBBackend struct {
	Identifier   String `json:"identifier"`
	IP           String `json:"ip"`
	VMIdentifier String `json:"vmIdentifier"`
}

// FindLoadBalancersByName returns the load balancers named name. VPSie's create returns no id,
// so the name is how a created load balancer is found.
func FindLoadBalancersByName(lbs []LoadBalancer, name string) []LoadBalancer {
	var out []LoadBalancer
	for _, lb := range lbs {
		if string(lb.Name) == name {
			out = append(out, lb)
		}
	}
	return out
}

// BackendTarget is a backend as sent: the node's address and its VM identifier.
type BackendTarget struct {
	IP           string `json:"ip"`
	VMIdentifier string `json:"vmIdentifier"`
}

// LBRuleSpec is a rule in a create request; ports are strings there (e.g. "6443").
type LBRuleSpec struct {
	Scheme    string          `json:"scheme"` // "tcp"
	FrontPort string          `json:"frontPort"`
	BackPort  string          `json:"backPort"`
	Backends  []BackendTarget `json:"backends"`
}

// CreateLoadBalancerRequest is the body of POST /api/v1/lb/create.
type CreateLoadBalancerRequest struct {
	Name               string       `json:"lbName"`
	Algorithm          string       `json:"algorithm"`          // e.g. "roundrobin"
	ResourceIdentifier string       `json:"resourceIdentifier"` // LB plan
	DcIdentifier       string       `json:"dcIdentifier"`
	RedirectHTTP       int          `json:"redirectHTTP"`
	CookieCheck        bool         `json:"cookieCheck"`
	CookieName         string       `json:"cookieName"`
	Rules              []LBRuleSpec `json:"rules"`
}

// UpdateLBRuleRequest replaces a rule's backends (POST /api/v1/lb/rule/update). The SDK sends
// ports as numbers here.
type UpdateLBRuleRequest struct {
	RuleID    string          `json:"ruleId"`
	Scheme    string          `json:"scheme"`
	FrontPort int             `json:"frontPort"`
	BackPort  int             `json:"backPort"`
	Backends  []BackendTarget `json:"backends"`
}

// PendingLoadBalancer is an entry of GET /api/v2/lbs/pending.
type PendingLoadBalancer struct {
	ID      ID     `json:"id"`
	Running Int    `json:"running"`
	Type    String `json:"type"`
	Data    struct {
		Name               String `json:"lbName"`
		DcIdentifier       String `json:"dcIdentifier"`
		ResourceIdentifier String `json:"resourceIdentifier"`
	} `json:"data"`
}

// ListLoadBalancers returns every load balancer of the account (without rules), following
// offset/limit paging when the server pages (see listPaged); they are told apart by identifier.
func (c *Client) ListLoadBalancers(ctx context.Context) ([]LoadBalancer, error) {
	return listPaged(ctx, c, "ListLoadBalancers", lbPath+"/all", nil,
		func(lb LoadBalancer) string { return string(lb.Identifier) })
}

// GetLoadBalancer returns one load balancer with its rules; data:false is NotFound.
func (c *Client) GetLoadBalancer(ctx context.Context, identifier string) (*LoadBalancer, error) {
	if err := requireID("GetLoadBalancer", "identifier", identifier); err != nil {
		return nil, err
	}
	res, err := c.do(ctx, request{op: "GetLoadBalancer", method: http.MethodGet,
		path: lbPath + "/" + url.PathEscape(identifier), idempotent: true})
	if err != nil {
		return nil, err
	}
	var out LoadBalancer
	if err := decodeObject("GetLoadBalancer", res, &out); err != nil {
		return nil, c.fail(asError(err))
	}
	return &out, nil
}

// CreateLoadBalancer creates a load balancer. No id is returned: find it by name (it sits in
// ListPendingLoadBalancers first). Not retried.
func (c *Client) CreateLoadBalancer(ctx context.Context, req CreateLoadBalancerRequest) error {
	if err := requireID("CreateLoadBalancer", "lbName", req.Name); err != nil {
		return err
	}
	if req.Rules == nil {
		req.Rules = []LBRuleSpec{}
	}
	for i := range req.Rules {
		if req.Rules[i].Backends == nil {
			req.Rules[i].Backends = []BackendTarget{}
		}
	}
	_, err := c.do(ctx, request{op: "CreateLoadBalancer", method: http.MethodPost, path: lbPath + "/create",
		body: req, notFoundIsTerminal: true})
	return err
}

// DeleteLoadBalancer deletes a load balancer (idempotent).
func (c *Client) DeleteLoadBalancer(ctx context.Context, identifier, reason, note string) error {
	if err := requireID("DeleteLoadBalancer", "identifier", identifier); err != nil {
		return err
	}
	body := struct {
		DeleteStatistic DeleteStatistic `json:"deleteStatistic"`
	}{deleteStatistic(reason, note)}
	_, err := c.do(ctx, request{op: "DeleteLoadBalancer", method: http.MethodDelete,
		path: lbPath + "/" + url.PathEscape(identifier), body: body, idempotent: true})
	return err
}

// UpdateLBRule replaces a rule's backends. It sets the full backend list, so repeating it is
// harmless, but as a POST it is not retried automatically.
func (c *Client) UpdateLBRule(ctx context.Context, req UpdateLBRuleRequest) error {
	if err := requireID("UpdateLBRule", "ruleId", req.RuleID); err != nil {
		return err
	}
	if req.Backends == nil {
		req.Backends = []BackendTarget{}
	}
	_, err := c.do(ctx, request{op: "UpdateLBRule", method: http.MethodPost, path: lbPath + "/rule/update", body: req})
	return err
}

// DeleteLBBackend removes one backend by id (idempotent).
func (c *Client) DeleteLBBackend(ctx context.Context, backendID string) error {
	if err := requireID("DeleteLBBackend", "backendId", backendID); err != nil {
		return err
	}
	body := map[string]string{"backendId": backendID}
	_, err := c.do(ctx, request{op: "DeleteLBBackend", method: http.MethodDelete, path: lbPath + "/delete/backend",
		body: body, idempotent: true})
	return err
}

// ListPendingLoadBalancers returns load balancers being created. The SDK reads this answer as a
// nested list ([[...]]); both nested and flat lists are accepted.
func (c *Client) ListPendingLoadBalancers(ctx context.Context) ([]PendingLoadBalancer, error) {
	return getList[PendingLoadBalancer](ctx, c, "ListPendingLoadBalancers", "/api/v2/lbs/pending")
}

// LBPlan is a load balancer plan offered in a datacenter (POST /api/v1/lb/offers).
type LBPlan struct {
	Identifier  String `json:"identifier"`
	Nickname    String `json:"nickname"`
	Price       Float  `json:"price"`
	Connections Int    `json:"connections"`
}

// ListLoadBalancerOffers returns the load balancer plans offered in a datacenter. It only reads, so it is
// retried like a GET although it is a POST.
func (c *Client) ListLoadBalancerOffers(ctx context.Context, dcIdentifier string) ([]LBPlan, error) {
	res, err := c.do(ctx, request{op: "ListLoadBalancerOffers", method: http.MethodPost, path: "/api/v1/lb/offers",
		body: map[string]string{"dcIdentifier": dcIdentifier}, idempotent: true, notFoundIsTerminal: true})
	if err != nil {
		return nil, err
	}
	offers, _, err := decodeList[LBPlan]("ListLoadBalancerOffers", res)
	if err != nil {
		return nil, c.fail(asError(err))
	}
	return offers, nil
}
