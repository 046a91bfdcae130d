package fabric

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// DeleteTags removes TagBypass from route tables (bypass.go); the fake
// keeps no route-table tags, so it only counts the call.
func (f *fakeCloud) DeleteTags(_ context.Context, _ *ec2.DeleteTagsInput, _ ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteTags"); err != nil {
		return nil, err
	}
	return &ec2.DeleteTagsOutput{}, f.end()
}
