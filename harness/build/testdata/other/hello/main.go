// Command hello is another package whose binary is called hello: its builds must never
// be mistaken for testdata/hello's.
package main

import "fmt"

func main() { fmt.Println("another hello") }
