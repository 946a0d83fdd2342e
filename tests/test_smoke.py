def test_tenant_home_names_the_tenant(make_tenant, client_for):
    tenant = make_tenant("district", name="Quận Thử Nghiệm")
    response = client_for(tenant).get("/")
    assert response.status_code == 200
    assert "Quận Thử Nghiệm" in response.text
    assert "<title>Quận Thử Nghiệm</title>" in response.text  # the unit's own page, not the city's list
