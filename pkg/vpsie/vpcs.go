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
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// VPC is a private network (GET /apps/v2/vpc).
type VPC struct {
	ID           ID     `json:"id"`
	Name         String `json:"name"`
	Description  String `json:"description"`
	NetworkRange String `json:"network_range"`
	NetworkSize  Int    `json:"network_size"`
	DatacenterID Int    `json:"datacenter_id"`
	DcIdentifier String `json:"dc_identifier"`
	DcName       String `json:"dc_name"`
	IsDefault    Int    `json:"is_default"`
	State        String `json:"state"`
}

// UnmarshalJSON also reads dcIdentifier.
func (v *VPC) UnmarshalJSON(b []byte) error {
	type plain VPC
	aux := struct {
		*plain
		DcIdentifierCamel String `json:"dcIdentifier"`
	}{plain: (*plain)(v)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	if v.DcIdentifier == "" {
		v.DcIdentifier = aux.DcIdentifierCamel
	}
	return nil
}

// FindVPCsByName returns the VPCs named name (exact match: VPC names are chosen by the caller).
// VPSie's create returns no id, so the name is how a created VPC is found.
func FindVPCsByName(vpcs []VPC, name string) []VPC {
	var out []VPC
	for _, v := range vpcs {
		if string(v.Name) == name {
			out = append(out, v)
		}
	}
	return out
}

// CreateVPCRequest is the body of POST /apps/v2/vpc/add.
type CreateVPCRequest struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	DcIdentifier string `json:"dcIdentifier"`
	NetworkRange string `json:"networkRange"`
	NetworkSize  string `json:"networkSize"`  // a string, e.g. "24"
	AutoGenerate int    `json:"autoGenerate"` // 1: let VPSie pick the range
}

// ListVPCs returns every VPC of the account, following offset/limit paging when the server
// pages (see listPaged); VPCs are told apart by id.
func (c *Client) ListVPCs(ctx context.Context) ([]VPC, error) {
	return listPaged(ctx, c, "ListVPCs", "/apps/v2/vpc", nil, func(v VPC) string { return string(v.ID) })
}

// GetVPC returns one VPC; data:false is NotFound.
func (c *Client) GetVPC(ctx context.Context, id string) (*VPC, error) {
	if err := requireID("GetVPC", "id", id); err != nil {
		return nil, err
	}
	res, err := c.do(ctx, request{op: "GetVPC", method: http.MethodGet, path: "/apps/v2/vpc/" + url.PathEscape(id), idempotent: true})
	if err != nil {
		return nil, err
	}
	var out VPC
	if err := decodeObject("GetVPC", res, &out); err != nil {
		return nil, c.fail(asError(err))
	}
	return &out, nil
}

// CreateVPC creates a VPC. No id is returned: find it by name. Not retried.
func (c *Client) CreateVPC(ctx context.Context, req CreateVPCRequest) error {
	if err := requireID("CreateVPC", "name", req.Name); err != nil {
		return err
	}
	_, err := c.do(ctx, request{op: "CreateVPC", method: http.MethodPost, path: "/apps/v2/vpc/add",
		body: req, notFoundIsTerminal: true})
	return err
}

// DeleteVPC deletes a VPC (idempotent). The reason is sent both inside "deleteStatistic" and
// at the top level, since VPSie's own clients disagree on the shape.
func (c *Client) DeleteVPC(ctx context.Context, id, reason, note string) error {
	if err := requireID("DeleteVPC", "id", id); err != nil {
		return err
	}
	ds := deleteStatistic(reason, note)
	body := struct {
		DeleteStatistic DeleteStatistic `json:"deleteStatistic"`
		Reason          string          `json:"reason"`
		Note            string          `json:"note"`
	}{ds, ds.Reason, ds.Note}
	_, err := c.do(ctx, request{op: "DeleteVPC", method: http.MethodDelete, path: "/apps/v2/vpc/" + url.PathEscape(id),
		body: body, idempotent: true})
	return err
}

// AttachVPC gives a VM a private address in a VPC. Not retried.
func (c *Client) AttachVPC(ctx context.Context, vmIdentifier, vpcID, dcIdentifier string) error {
	if err := requireID("AttachVPC", "vmIdentifier", vmIdentifier); err != nil {
		return err
	}
	if err := requireID("AttachVPC", "vpcId", vpcID); err != nil {
		return err
	}
	body := struct {
		VMIdentifier string `json:"vmIdentifier"`
		VPCID        any    `json:"vpcId"`
		DcIdentifier string `json:"dcIdentifier"`
	}{vmIdentifier, numberIfNumeric(vpcID), dcIdentifier}
	_, err := c.do(ctx, request{op: "AttachVPC", method: http.MethodPost, path: "/apps/v2/vm/add/vpc", body: body})
	return err
}

// DetachVPC releases a VM's private address (privateIpId from VMDetails.PrivateIPs). Idempotent.
func (c *Client) DetachVPC(ctx context.Context, vmIdentifier, privateIPID string) error {
	if err := requireID("DetachVPC", "vmIdentifier", vmIdentifier); err != nil {
		return err
	}
	if err := requireID("DetachVPC", "privateIpId", privateIPID); err != nil {
		return err
	}
	body := struct {
		VMIdentifier string `json:"vmIdentifier"`
		PrivateIPID  any    `json:"privateIpId"`
	}{vmIdentifier, numberIfNumeric(privateIPID)}
	_, err := c.do(ctx, request{op: "DetachVPC", method: http.MethodDelete, path: "/apps/v2/vm/vpc",
		body: body, idempotent: true})
	return err
}

// numberIfNumeric sends numeric ids as JSON numbers (how VPC ids are stored) and anything
// else as a string; VPSie's sources disagree on the type of vpcId.
func numberIfNumeric(id string) any {
	if _, err := strconv.ParseInt(id, 10, 64); err == nil {
		return json.Number(id)
	}
	return id
}
