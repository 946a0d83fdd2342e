"""The tenant back office (trang quản trị / nghiệp vụ của đơn vị): views only, no rules."""
