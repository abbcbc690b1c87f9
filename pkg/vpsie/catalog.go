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

// Datacenter is an entry of GET /apps/v2/datacenter.
type Datacenter struct {
	Identifier      String `json:"identifier"`
	Name            String `json:"dc_name"`
	State           String `json:"state"`
	Country         String `json:"country"`
	IsActive        Int    `json:"is_active"`
	IsDeleted       Int    `json:"is_deleted"`
	IsPrivate       Int    `json:"is_private"`
	DefaultSelected Int    `json:"default_selected"`
	IsFIPAvailable  Int    `json:"is_fip_available"`
}

// Plan is a VM size (POST /apps/v2/resources).
type Plan struct {
	Identifier String `json:"identifier"`
	Nickname   String `json:"nickname"`
	CPU        Int    `json:"cpu"`
	RAM        Int    `json:"ram"`     // MB
	SSD        Int    `json:"ssd"`     // GB
	Traffic    Int    `json:"traffic"` // GB
	Price      Float  `json:"price"`
	NetSpeed   Int    `json:"net_speed"`
	Category   String `json:"category"`
}

// PlanQuery selects plans. VPSie needs the datacenter and the image; the category narrows.
type PlanQuery struct {
	DcIdentifier      string
	OSIdentifier      string
	PlanCatIdentifier string
	Name              string
	Description       string
}

// PlanCategory is an entry of GET /api/v2/plans/category.
type PlanCategory struct {
	Identifier String `json:"identifier"`
	Name       String `json:"name"`
}

// CustomImage is an entry of GET /apps/v2/custom/images. (VPSie has no list of stock OS
// images: an osIdentifier is an opaque UUID copied from the console.)
type CustomImage struct {
	Identifier   String `json:"identifier"`
	OriginalName String `json:"original_name"`
	Label        String `json:"image_label"`
	DcIdentifier String `json:"dcIdentifier"`
}

// SSHKey is an account SSH key. VPSie names the public key field "private_key".
type SSHKey struct {
	ID         Int    `json:"id"`
	Identifier String `json:"identifier"`
	Name       String `json:"name"`
	PublicKey  String `json:"private_key"`
}

// Tag is an account tag.
type Tag struct {
	ID         Int    `json:"id"`
	Identifier String `json:"identifier"`
	Name       String `json:"name"`
	Color      String `json:"color"`
}

// ListDatacenters returns every datacenter, following offset/limit paging.
func (c *Client) ListDatacenters(ctx context.Context) ([]Datacenter, error) {
	return listPaged(ctx, c, "ListDatacenters", "/apps/v2/datacenter", nil,
		func(d Datacenter) string { return string(d.Identifier) })
}

// ListPlans returns the plans matching q. The endpoint is a POST with a form body but only
// reads, so it is treated as idempotent and retried like a GET.
func (c *Client) ListPlans(ctx context.Context, q PlanQuery) ([]Plan, error) {
	form := url.Values{
		"dcIdentifier":      {q.DcIdentifier},
		"osIdentifier":      {q.OSIdentifier},
		"planCatIdentifier": {q.PlanCatIdentifier},
		"name":              {q.Name},
		"description":       {q.Description},
		"isCustom":          {"0"},
	}
	res, err := c.do(ctx, request{op: "ListPlans", method: http.MethodPost, path: "/apps/v2/resources",
		form: form, idempotent: true, notFoundIsTerminal: true})
	if err != nil {
		return nil, err
	}
	plans, _, err := decodeList[Plan]("ListPlans", res)
	if err != nil {
		return nil, c.fail(asError(err))
	}
	return plans, nil
}

// ListPlanCategories returns the plan categories.
func (c *Client) ListPlanCategories(ctx context.Context) ([]PlanCategory, error) {
	return getList[PlanCategory](ctx, c, "ListPlanCategories", "/api/v2/plans/category")
}

// ListCustomImages returns the account's custom images.
func (c *Client) ListCustomImages(ctx context.Context) ([]CustomImage, error) {
	return getList[CustomImage](ctx, c, "ListCustomImages", "/apps/v2/custom/images")
}

// ListSSHKeys returns the account's SSH keys.
func (c *Client) ListSSHKeys(ctx context.Context) ([]SSHKey, error) {
	return getList[SSHKey](ctx, c, "ListSSHKeys", "/apps/v2/sshkeys")
}

// CreateSSHKey stores a public key under name. No id is returned: find it by name with
// ListSSHKeys. Not retried.
func (c *Client) CreateSSHKey(ctx context.Context, name, publicKey string) error {
	if err := requireID("CreateSSHKey", "name", name); err != nil {
		return err
	}
	body := map[string]string{"privateKey": publicKey, "name": name}
	_, err := c.do(ctx, request{op: "CreateSSHKey", method: http.MethodPost, path: "/apps/v2/sshkey/add", body: body})
	return err
}

// DeleteSSHKey deletes a key by identifier (idempotent).
func (c *Client) DeleteSSHKey(ctx context.Context, identifier string) error {
	if err := requireID("DeleteSSHKey", "identifier", identifier); err != nil {
		return err
	}
	body := map[string]string{"identifier": identifier}
	_, err := c.do(ctx, request{op: "DeleteSSHKey", method: http.MethodDelete, path: "/apps/v2/sshkey",
		body: body, idempotent: true})
	return err
}

// ListTags returns the account's tags.
func (c *Client) ListTags(ctx context.Context) ([]Tag, error) {
	return getList[Tag](ctx, c, "ListTags", "/apps/v2/tags")
}

// CreateTag creates an account tag. Not retried.
func (c *Client) CreateTag(ctx context.Context, name, color string) error {
	if err := requireID("CreateTag", "name", name); err != nil {
		return err
	}
	body := map[string]string{"name": name, "color": color}
	_, err := c.do(ctx, request{op: "CreateTag", method: http.MethodPost, path: "/apps/v2/tags/add", body: body})
	return err
}

// SetTags replaces the tags of an entity (e.g. entity "vm" with a VM identifier). A PUT of
// the full set is idempotent and retried.
func (c *Client) SetTags(ctx context.Context, entity, identifier string, tags []string) error {
	if err := requireID("SetTags", "identifier", identifier); err != nil {
		return err
	}
	if tags == nil {
		tags = []string{}
	}
	body := struct {
		Entity     string   `json:"entity"`
		Identifier string   `json:"identifier"`
		Tags       []string `json:"tags"`
	}{entity, identifier, tags}
	_, err := c.do(ctx, request{op: "SetTags", method: http.MethodPut, path: "/apps/v2/tags/edit",
		body: body, idempotent: true})
	return err
}
