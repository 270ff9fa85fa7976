// Command service runs as steps of a real engine: it changes Targets,
// fails messages and executes messages through the organization service.
package main

import (
	"strings"

	sdk "github.com/bizevents/bizevents/sdk/go"
)

func init() {
	sdk.Register("Check", check)
	sdk.Register("Upper", upper)
	sdk.Register("PrimaryContact", primaryContact)
	sdk.Register("Loop", loop)
	sdk.Register("Score", score)
	sdk.Register("Count", count)
	sdk.Register("Wrapped", wrapped)
	sdk.Register("Share", share)
	sdk.Register("SharedBefore", sharedBefore)
}

// check refuses a name (PreValidation).
func check(ctx *sdk.Context) error {
	name, err := ctx.Target().GetString("name")
	if err != nil {
		return err
	}
	if name == "forbidden" {
		return sdk.Fail("the name %q is not allowed", name)
	}
	ctx.Trace("checked %s", name)
	return nil
}

// upper changes the Target (PreOperation): the name in upper case and the
// city from the step's configuration.
func upper(ctx *sdk.Context) error {
	name, err := ctx.Target().GetString("name")
	if err != nil {
		return err
	}
	if err := ctx.SetTarget("name", strings.ToUpper(name)); err != nil {
		return err
	}
	if city := ctx.Config(); city != "" {
		if err := ctx.SetTarget("city", city); err != nil {
			return err
		}
	}
	if name == "bad-credit" {
		return ctx.SetTarget("credit", "lots")
	}
	return ctx.SetShared("upper", true)
}

// primaryContact creates a contact for a new account (PostOperation), and
// fails afterwards when the account's name asks for it.
func primaryContact(ctx *sdk.Context) error {
	name, err := ctx.Target().GetString("name")
	if err != nil {
		return err
	}
	id, err := ctx.Service().Create("contact", sdk.Fields{
		"lastname":         name,
		"parentcustomerid": sdk.Reference{Table: "account", ID: ctx.ID()},
	})
	if err != nil {
		return err
	}
	row, err := ctx.Service().Retrieve("contact", id, "lastname", "parentcustomerid")
	if err != nil {
		return err
	}
	parent, err := row.GetReference("parentcustomerid")
	if err != nil {
		return err
	}
	if parent.ID != ctx.ID() {
		return sdk.Fail("the contact's parent is %s, want %s", parent.ID, ctx.ID())
	}
	ctx.Trace("created contact %s at depth %d", id, ctx.Depth())
	if strings.HasPrefix(name, "FAIL-AFTER") {
		return sdk.Fail("changed my mind after creating contact %s", id)
	}
	return nil
}

// loop creates a contact named loop when one named loop is created: a
// plugin calling itself through the organization service without end.
func loop(ctx *sdk.Context) error {
	name, err := ctx.Target().GetString("lastname")
	if err != nil || name != "loop" {
		return err
	}
	_, err = ctx.Service().Create("contact", sdk.Fields{"lastname": "loop"})
	return err // passed on with its code
}

// score is the main operation of a bound custom API.
func score(ctx *sdk.Context) error {
	ref, err := ctx.TargetReference()
	if err != nil {
		return err
	}
	row, err := ctx.Service().Retrieve(ref.Table, ref.ID)
	if err != nil {
		return err
	}
	credit, err := row.GetInt("credit")
	if err != nil {
		return err
	}
	factor, err := ctx.InputInt("Factor")
	if err != nil {
		return err
	}
	return ctx.SetOutput("Score", credit*factor)
}

// count counts accounts in a city through RetrieveMultiple (PreValidation
// of contact Create) and refuses a contact when there are none.
func count(ctx *sdk.Context) error {
	page, err := ctx.Service().RetrieveMultiple(sdk.Query{
		Table: "account", Columns: []string{"name", "city"}, Filter: "city eq 'Oslo'", OrderBy: "name desc", Top: 10,
	})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(page.Rows))
	for _, r := range page.Rows {
		n, err := r.GetString("name")
		if err != nil {
			return err
		}
		names = append(names, n)
	}
	if err := ctx.SetShared("oslo", strings.Join(names, ",")); err != nil {
		return err
	}
	if len(names) == 0 {
		return sdk.Fail("no account in Oslo")
	}
	ctx.Trace("oslo: %s (more: %t)", strings.Join(names, ","), page.More)
	return nil
}

// wrapped executes an invalid Create and wraps its error.
func wrapped(ctx *sdk.Context) error {
	_, err := ctx.Service().Create("contact", sdk.Fields{"lastname": 12})
	if err == nil {
		return sdk.Fail("an invalid contact was created")
	}
	var e *sdk.Error
	if !asError(err, &e) || e.Code != "invalid_value" {
		return sdk.Fail("unexpected error %v", err)
	}
	return sdk.Fail("could not create the contact: %s [%s]", e.Message, e.Code)
}

// share shares a new contact's parent account (PostOperation of contact
// Create) through the sharing messages, with the two principals of the
// step's configuration ("alice,bob"), and traces what each refused request
// answered. A contact named share-fail fails the message after sharing.
func share(ctx *sdk.Context) error {
	parent, err := ctx.Target().GetReference("parentcustomerid")
	if err != nil {
		return err
	}
	alice, bob, _ := strings.Cut(ctx.Config(), ",")
	svc := ctx.Service()
	steps := []func() error{
		func() error { return svc.GrantAccess(parent.Table, parent.ID, alice, sdk.ReadAccess) },
		func() error {
			return svc.GrantAccess(parent.Table, parent.ID, alice, sdk.WriteAccess|sdk.AppendToAccess)
		},
		func() error { return svc.GrantAccess(parent.Table, parent.ID, bob, sdk.ShareAccess) },
		func() error { return svc.ModifyAccess(parent.Table, parent.ID, bob, sdk.ReadAccess|sdk.DeleteAccess) },
		func() error { return svc.RevokeAccess(parent.Table, parent.ID, bob) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	refused := []struct {
		name string
		req  sdk.Request
	}{
		{"create access", sdk.Request{Message: "GrantAccess", Table: parent.Table, ID: parent.ID, Principal: alice, AccessRights: 0x20}},
		{"no rights", sdk.Request{Message: "ModifyAccess", Table: parent.Table, ID: parent.ID, Principal: alice}},
		{"bad principal", sdk.Request{Message: "RevokeAccess", Table: parent.Table, ID: parent.ID, Principal: "alice"}},
		{"no principal", sdk.Request{Message: "GrantAccess", Table: parent.Table, ID: parent.ID, AccessRights: sdk.ReadAccess}},
		{"rights on revoke", sdk.Request{Message: "RevokeAccess", Table: parent.Table, ID: parent.ID, Principal: alice, AccessRights: sdk.ReadAccess}},
		{"principal on update", sdk.Request{Message: "Update", Table: parent.Table, ID: parent.ID, Principal: alice, Target: sdk.Fields{"city": "x"}}},
		{"stale version", sdk.Request{Message: "GrantAccess", Table: parent.Table, ID: parent.ID, Principal: alice, AccessRights: sdk.ReadAccess, ExpectedVersion: 1}},
		{"organization-owned", sdk.Request{Message: "GrantAccess", Table: "store", ID: parent.ID, Principal: alice, AccessRights: sdk.ReadAccess}},
	}
	for _, r := range refused {
		_, err := svc.Send(r.req)
		var e *sdk.Error
		if !asError(err, &e) {
			return sdk.Fail("%s: want an *sdk.Error, got %v", r.name, err)
		}
		ctx.Trace("%s: %s", r.name, e.Code)
	}
	row, err := svc.Retrieve(parent.Table, parent.ID, "versionnumber")
	if err != nil {
		return err
	}
	version, err := row.GetInt("versionnumber")
	if err != nil {
		return err
	}
	rights, err := sdk.ParseAccessRights("read, WriteAccess,AppendTo")
	if err != nil {
		return err
	}
	ctx.Trace("account at version %d; alice has %s", version, rights)
	name, err := ctx.Target().GetString("lastname")
	if err != nil {
		return err
	}
	if name == "share-fail" {
		return sdk.Fail("shared, then failed")
	}
	return nil
}

// sharedBefore is an async step on GrantAccess: it traces who got which
// rights and the shared row's name before, from its pre image.
func sharedBefore(ctx *sdk.Context) error {
	principal, err := ctx.Input("PrincipalAccess")
	if err != nil {
		return err
	}
	pa, err := principal.AsRow()
	if err != nil {
		return err
	}
	who, err := pa.GetReference("Principal")
	if err != nil {
		return err
	}
	mask, err := pa.GetString("AccessMask")
	if err != nil {
		return err
	}
	rights, err := sdk.ParseAccessRights(mask)
	if err != nil {
		return err
	}
	name, err := ctx.PreImage("before").GetString("name")
	if err != nil {
		return err
	}
	version, err := ctx.PreImage("before").GetInt("versionnumber")
	if err != nil {
		return err
	}
	ctx.Trace("%s shared %s with %s: %s (0x%x), version %d before, %s mode", ctx.Message(), name, who.ID, rights, uint32(rights), version, ctx.Mode())
	return nil
}

func asError(err error, target **sdk.Error) bool {
	e, ok := err.(*sdk.Error)
	if ok {
		*target = e
	}
	return ok
}

func main() {}
