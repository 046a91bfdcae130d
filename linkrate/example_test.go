package linkrate_test

import (
	"fmt"

	"github.com/dxmon/dxmon/linkrate"
)

func ExampleParse() {
	bps, err := linkrate.Parse("10G,10G") // two 10 Gbps connections in a LAG
	fmt.Println(bps, err, linkrate.Format(bps))
	// Output: 2e+10 <nil> 20G
}
