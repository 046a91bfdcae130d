package fabric

import (
	"context"
	"debug/elf"
	"encoding/binary"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The fake's calls added with the appliance deployment and return routes.

func (f *fakeCloud) DeleteRoute(_ context.Context, in *ec2.DeleteRouteInput, _ ...func(*ec2.Options)) (*ec2.DeleteRouteOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteRoute"); err != nil {
		return nil, err
	}
	t := f.rts[aws.ToString(in.RouteTableId)]
	for i, r := range t.Routes {
		if aws.ToString(r.DestinationCidrBlock) == aws.ToString(in.DestinationCidrBlock) {
			t.Routes = append(t.Routes[:i], t.Routes[i+1:]...)
			return &ec2.DeleteRouteOutput{}, f.end()
		}
	}
	return nil, notFound("InvalidRoute.NotFound")
}

// DescribeInstanceTypes knows the Graviton types fabric defaults to and
// one x86 type, as EC2 reports them (ProcessorInfo.SupportedArchitectures).
func (f *fakeCloud) DescribeInstanceTypes(_ context.Context, in *ec2.DescribeInstanceTypesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	// AWS's values (DescribeInstanceTypes): architecture, default vCPUs,
	// baseline bandwidth in Gbps.
	types := map[string]struct {
		arch     ec2types.ArchitectureType
		vcpus    int32
		baseline float64
	}{"c6g.large": {"arm64", 2, 0.75}, "c6g.8xlarge": {"arm64", 32, 12}, "c6gn.2xlarge": {"arm64", 8, 12.5}, "c5.large": {"x86_64", 2, 0.75}}
	var out []ec2types.InstanceTypeInfo
	for _, t := range in.InstanceTypes {
		if a, ok := types[string(t)]; ok {
			out = append(out, ec2types.InstanceTypeInfo{InstanceType: t, Hypervisor: "nitro",
				ProcessorInfo: &ec2types.ProcessorInfo{SupportedArchitectures: []ec2types.ArchitectureType{a.arch}},
				VCpuInfo:      &ec2types.VCpuInfo{DefaultVCpus: aws.Int32(a.vcpus)},
				NetworkInfo:   &ec2types.NetworkInfo{NetworkCards: []ec2types.NetworkCardInfo{{BaselineBandwidthInGbps: aws.Float64(a.baseline)}}}})
		}
	}
	if len(out) == 0 {
		return nil, notFound("InvalidInstanceType")
	}
	return &ec2.DescribeInstanceTypesOutput{InstanceTypes: out}, nil
}

// elfHeader is a 64-bit little-endian ELF executable header for machine m
// and nothing else: enough for debug/elf and ELFArch.
func elfHeader(m elf.Machine, osabi elf.OSABI) []byte {
	b := make([]byte, 64)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION], b[elf.EI_OSABI] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT), byte(osabi)
	le := binary.LittleEndian
	le.PutUint16(b[16:], uint16(elf.ET_EXEC))
	le.PutUint16(b[18:], uint16(m))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	le.PutUint16(b[52:], 64) // e_ehsize
	return b
}

func (f *fakeCloud) DescribeIamInstanceProfileAssociations(_ context.Context, in *ec2.DescribeIamInstanceProfileAssociationsInput, _ ...func(*ec2.Options)) (*ec2.DescribeIamInstanceProfileAssociationsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2types.IamInstanceProfileAssociation
	for id, i := range f.instances {
		if i.IamInstanceProfile != nil && i.State.Name != ec2types.InstanceStateNameTerminated &&
			match(in.Filters, nil, map[string]string{"instance-id": id}) {
			out = append(out, ec2types.IamInstanceProfileAssociation{InstanceId: aws.String(id), State: ec2types.IamInstanceProfileAssociationStateAssociated})
		}
	}
	return &ec2.DescribeIamInstanceProfileAssociationsOutput{IamInstanceProfileAssociations: out}, nil
}

func (f *fakeCloud) AssociateIamInstanceProfile(_ context.Context, in *ec2.AssociateIamInstanceProfileInput, _ ...func(*ec2.Options)) (*ec2.AssociateIamInstanceProfileOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("AssociateIamInstanceProfile"); err != nil {
		return nil, err
	}
	i := f.instances[aws.ToString(in.InstanceId)]
	i.IamInstanceProfile = &ec2types.IamInstanceProfile{Arn: in.IamInstanceProfile.Name}
	return &ec2.AssociateIamInstanceProfileOutput{}, f.end()
}
