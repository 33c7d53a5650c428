//go:build tools

// Package compatsarama pins, for `make compat SUITES=sarama`, Sarama (whose functional tests run
// against Sluice) and toxiproxy (whose server they drive). Nothing here is built into Sluice.
package compatsarama

import (
	_ "github.com/IBM/sarama"
	_ "github.com/Shopify/toxiproxy/v2"
)
