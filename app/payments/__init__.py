"""Fee and financial-obligation payments (thanh toán) and receipts."""
