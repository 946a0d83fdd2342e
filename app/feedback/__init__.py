"""Applicant feedback: ratings (đánh giá) and questions and answers (hỏi đáp)."""
