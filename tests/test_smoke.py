def test_home_page_is_chinese_by_default(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "爱心积分" in response.get_data(as_text=True) or "Love Points" in response.get_data(as_text=True)


def test_admin_sees_community(client, make, login, db):
    community = make.community("梨园社区")
    admin = make.admin(community)
    db.session.commit()
    login(client, admin)
    response = client.get(f"/admin/c/{community.id}/")
    assert response.status_code == 200
    assert "梨园社区" in response.get_data(as_text=True)


def test_the_default_database_is_the_file_the_readme_names(tmp_path, monkeypatch):
    """instance/pointsapp.sqlite: an existing install without DATABASE_URL must find its data."""
    from pointsapp.core.config import from_environment

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SECRET_KEY", "x")
    assert from_environment(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'pointsapp.sqlite'}"
