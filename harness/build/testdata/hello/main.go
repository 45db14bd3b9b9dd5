// Command hello prints hello; the build package's tests build it.
package main

import "fmt"

func main() { fmt.Println("hello") }
