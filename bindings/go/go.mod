module persistency

go 1.19
