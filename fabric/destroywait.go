package fabric

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Destroy's GWLB endpoints and endpoint service, as AWS deletes them.
//
// DeleteVpcEndpoints and DeleteVpcEndpointServiceConfigurations answer 200
// even when they delete nothing: what failed is in the answer's
// Unsuccessful list (EC2 API Reference: "Unsuccessful: Information about
// the ... that were not successfully deleted"), and "Before you delete an
// endpoint service, you must reject or delete all endpoint connections to
// the service" (DeleteVpcEndpointServiceConfigurations). An endpoint is
// "deleting" for a while after DeleteVpcEndpoints (VpcEndpoint.State).
// So destroy fails on any Unsuccessful item, naming its code, and waits
// until every endpoint of the project, including one an interrupted
// destroy left deleting, is gone before it deletes the service and then
// the GWLB.

// unsuccessful turns an Unsuccessful list into an error, or nil. A
// resource AWS no longer knows counts as deleted.
func unsuccessful(items []ec2types.UnsuccessfulItem) error {
	var errs []string
	for _, it := range items {
		code, msg := "", ""
		if it.Error != nil {
			code, msg = aws.ToString(it.Error.Code), aws.ToString(it.Error.Message)
		}
		if strings.HasSuffix(code, ".NotFound") {
			continue
		}
		errs = append(errs, fmt.Sprintf("%s: %s: %s", aws.ToString(it.ResourceId), code, msg))
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New("not deleted: " + strings.Join(errs, "; "))
}

// endpointsNotGone lists the project's VPC endpoints of a role ("gwlbe",
// "dynamodb-endpoint") in any state but deleted.
func (d *Deployer) endpointsNotGone(ctx context.Context, role string) ([]ec2types.VpcEndpoint, error) {
	var out []ec2types.VpcEndpoint
	p := ec2.NewDescribeVpcEndpointsPaginator(d.c.EC2, &ec2.DescribeVpcEndpointsInput{Filters: d.byRole(role)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range page.VpcEndpoints {
			if d.ownsRole(e.Tags, role) && !stateIs(string(e.State), "deleted") {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// waitEndpointsGone waits, at most WaitTimeout, until no endpoint of the
// project with that role is left, deleting or otherwise; kind names it in
// events.
func (r *run) waitEndpointsGone(ctx context.Context, role, kind string, deleted int) error {
	left, err := r.d.endpointsNotGone(ctx, role)
	if err != nil {
		return r.fail(kind, "*", err)
	}
	if len(left) == 0 {
		return nil
	}
	what := fmt.Sprintf("%d %ss deleted", max(deleted, len(left)), strings.ReplaceAll(kind, "-", " "))
	if err := r.poll(ctx, kind, "*", what, func(ctx context.Context) (bool, error) {
		left, err = r.d.endpointsNotGone(ctx, role)
		return len(left) == 0, err
	}); err != nil {
		var ids []string
		for _, e := range left {
			ids = append(ids, aws.ToString(e.VpcEndpointId)+" "+string(e.State))
		}
		return r.fail(kind, strings.Join(ids, ", "), err)
	}
	return nil
}
