"""The audit trail (`governance.graphql`): records in one hash chain, read by admins and,
within their scope, approvers."""
