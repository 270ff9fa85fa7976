package tables

// Query is what RetrieveMultiple asks for: the rows of one table that match
// Filter, ordered, a page at a time.
type Query struct {
	// Select lists the columns to return; empty returns all.
	Select []string
	// Filter keeps the rows it is true for; nil keeps all.
	Filter Expr
	// OrderBy sorts the rows; the primary key always breaks ties, so pages
	// are stable.
	OrderBy []Order
	// Top is the most rows to return in all; 0 for no limit.
	Top int
	// PageSize is the most rows in one page; 0 for the default.
	PageSize int
	// PageToken continues a query where the previous page ended; it comes
	// from that page's response.
	PageToken string
}

// Order is one sort key.
type Order struct {
	Column string
	Desc   bool
}

// Expr is a filter expression, as parsed from an OData $filter.
type Expr interface {
	isExpr()
}
